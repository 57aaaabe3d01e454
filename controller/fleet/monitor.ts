import type { DriftEvent } from '../../proto/gen/muster/agent/v1/agent.js';
import type { Inventory, InventoryNode } from '../inputs/inventory.js';
import type { Fleet } from './fleet.js';
import type { NodeView } from './view.js';

export interface MonitorEvents {
  change?(view: NodeView): void;
  drift?(node: string, event: DriftEvent): void;
}

export interface ReconnectSchedule {
  // Retry n waits a random time in [0, min(capMs, baseMs * 2^n)) ("full jitter"): agents that
  // dropped together come back spread out, not in waves.
  baseMs: number;
  capMs: number;
  // The first connects are spread over min(spreadMaxMs, nodes * spreadPerNodeMs), at random:
  // a controller restart does not open a thousand TLS handshakes in the same millisecond.
  spreadPerNodeMs: number;
  spreadMaxMs: number;
  // At most this many streams between dial and first status: past a few thousand agents the
  // handshakes alone outrun the controller's CPU, and a queue paces them to it. A slot is freed
  // after slotMs anyway, so a rack of powered-off nodes cannot stall the queue.
  maxConnecting: number;
  slotMs: number;
  // A stream with no first status by then is dropped and retried (a half-open connection).
  firstStatusMs: number;
  random?: () => number;
}

export const DEFAULT_SCHEDULE: ReconnectSchedule = { baseMs: 500, capMs: 30_000, spreadPerNodeMs: 2, spreadMaxMs: 3_000, maxConnecting: 64, slotMs: 2_000, firstStatusMs: 20_000 };

export function retryDelayMs(attempt: number, s: ReconnectSchedule): number {
  const ceiling = Math.min(s.capMs, s.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor((s.random ?? Math.random)() * ceiling);
}

export function firstConnectMs(nodes: number, s: ReconnectSchedule): number {
  return Math.floor((s.random ?? Math.random)() * Math.min(s.spreadMaxMs, nodes * s.spreadPerNodeMs));
}

// Keeps one WatchStatus stream per agent and the latest view of every node. A lost stream is
// retried with jittered exponential backoff; the node shows unreachable with the error and since when.
export class FleetMonitor {
  readonly views = new Map<string, NodeView>();
  readonly recentDrift: { node: string; event: DriftEvent }[] = [];
  private readonly cancels = new Map<string, () => void>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private readonly queue: { n: InventoryNode; attempt: number }[] = [];
  private connecting = 0;
  private stopped = false;

  constructor(private readonly fleet: Fleet, inv: Inventory, private readonly on: MonitorEvents = {}, private readonly schedule: ReconnectSchedule = DEFAULT_SCHEDULE) {
    const now = Date.now();
    for (const n of inv.nodes) this.views.set(n.name, { node: n, updatedAtMs: 0, error: 'connecting', errorSinceMs: now });
  }

  start(): void {
    for (const v of this.views.values()) this.later(v.node, 0, firstConnectMs(this.views.size, this.schedule));
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    for (const t of this.retries.values()) clearTimeout(t);
    for (const c of this.cancels.values()) c();
  }

  private connect(n: InventoryNode, attempt: number): void {
    if (this.stopped) return;
    if (this.connecting >= this.schedule.maxConnecting) {
      this.queue.push({ n, attempt });
      return;
    }
    this.connecting++;
    let holding = true;
    const release = () => {
      if (!holding) return;
      holding = false;
      clearTimeout(slot);
      this.connecting--;
      while (!this.stopped && this.connecting < this.schedule.maxConnecting && this.queue.length) {
        const next = this.queue.shift()!;
        this.connect(next.n, next.attempt);
      }
    };
    const settle = () => {
      clearTimeout(deadline);
      release();
    };
    const fail = (error = 'the stream ended') => {
      settle();
      const v = this.views.get(n.name)!;
      // Keep the first failure's time: "unreachable since" is when it went away.
      Object.assign(v, { error, errorSinceMs: v.error && v.errorSinceMs ? v.errorSinceMs : Date.now(), updatedAtMs: Date.now() });
      this.on.change?.(v);
      this.later(n, attempt + 1, retryDelayMs(attempt, this.schedule));
    };
    const deadline = setTimeout(() => {
      if (this.stopped) return;
      this.cancels.get(n.name)?.();
      fail(`no status from ${n.name} within ${Math.round(this.schedule.firstStatusMs / 1000)} s of connecting: retrying`);
    }, this.schedule.firstStatusMs);
    deadline.unref();
    const slot = setTimeout(release, this.schedule.slotMs);
    slot.unref();
    this.cancels.set(n.name, this.fleet.client(n).watch(
      (e) => {
        settle();
        attempt = 0;
        const v = this.views.get(n.name)!;
        if (e.status) Object.assign(v, { status: e.status, error: undefined, errorSinceMs: undefined, updatedAtMs: Date.now() });
        if (e.drift) {
          this.recentDrift.push({ node: n.name, event: e.drift });
          if (this.recentDrift.length > 200) this.recentDrift.shift();
          this.on.drift?.(n.name, e.drift);
        }
        this.on.change?.(v);
      },
      fail,
    ));
  }

  private later(n: InventoryNode, attempt: number, ms: number): void {
    if (this.stopped) return;
    const t = setTimeout(() => this.connect(n, attempt), ms);
    t.unref();
    this.retries.set(n.name, t);
  }
}
