import { api, ApiError, connectEvents, type DriftJson, type Leader, type WhoAmI } from './api.ts';
import { addDrift, currentRollout, FleetModel, mergeRollout } from './model.ts';
import type { HistoryEntry, NodeJson, RolloutRecord, RolloutStatus } from './types.ts';
import type { RolloutAction } from './rollout-panel.tsx';

export type Link = 'connecting' | 'live' | 'reconnecting';

const FLASH_MS = 4000;
// A burst of events is rendered together: ten times a second is live to a person.
const RENDER_MS = 100;
// A burst of journal events (a wave of 200 nodes) reads the rollout's status at most this often.
const STATUS_EVERY_MS = 500;
// Events tell only what this controller's own jobs write: a rollout driven elsewhere (the CLI
// in-process, or the leader while this one follows) shows through reading it this often.
const POLL_MS = 5000;

const message = (err: unknown) => (err instanceof ApiError ? `${err.code}: ${err.message}` : (err as Error).message);

// A fetch that runs at most once at a time and at most every `everyMs`; calls while one is due
// or running ask for one more run after it, not one each.
export function throttled(fn: () => Promise<void>, everyMs: number): () => void {
  let scheduled = false;
  let running = false;
  let again = false;
  let last = -Infinity;
  const schedule = () => {
    scheduled = true;
    setTimeout(run, Math.max(0, everyMs - (Date.now() - last)));
  };
  const run = async () => {
    scheduled = false;
    running = true;
    again = false;
    last = Date.now();
    try {
      await fn();
    } finally {
      running = false;
      if (again) schedule();
    }
  };
  return () => {
    if (running) again = true;
    else if (!scheduled) schedule();
  };
}

// Everything the page shows, kept current by the event stream. Events change the model at once;
// the page renders at most every RENDER_MS, whatever the rate of events.
export class Live {
  readonly fleet = new FleetModel();
  whoami: WhoAmI | undefined;
  leader: Leader | undefined;
  drift: DriftJson[] = [];
  rollouts: RolloutRecord[] = [];
  // The rollout the operator picked; none: the running one.
  picked: string | undefined;
  status: RolloutStatus | undefined;
  history: HistoryEntry[] = [];
  link: Link = 'connecting';
  fatal: string | undefined;
  errors: string[] = [];
  actionError: string | undefined;
  busy = false;
  version = 0;
  private readonly flashUntil = new Map<string, number>();
  private listeners = new Set<() => void>();
  private pending = false;
  private lastFlush = 0;
  private close: (() => void) | undefined;
  private poll: ReturnType<typeof setInterval> | undefined;
  private sawDown = false;

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    if (this.pending) return;
    this.pending = true;
    const flush = () => {
      if (!this.pending) return;
      this.pending = false;
      this.lastFlush = Date.now();
      this.version++;
      for (const fn of this.listeners) fn();
    };
    // At most one render per RENDER_MS, in an animation frame (a hidden tab gets none: the
    // timer renders it all the same).
    const wait = Math.max(0, RENDER_MS - (Date.now() - this.lastFlush));
    setTimeout(() => {
      requestAnimationFrame(flush);
      setTimeout(flush, 250);
    }, wait);
  }

  get shown(): RolloutRecord | undefined {
    return (this.picked && this.rollouts.find((r) => r.id === this.picked)) || currentRollout(this.rollouts);
  }

  flashing(now = Date.now()): Set<string> {
    const s = new Set<string>();
    for (const [n, until] of this.flashUntil) if (until > now) s.add(n);
    else this.flashUntil.delete(n);
    return s;
  }

  async start(): Promise<void> {
    try {
      this.whoami = await api.whoami();
    } catch (err) {
      this.fatal = err instanceof ApiError && (err.status === 401 || err.status === 403) ? `This certificate may not read the controller: ${message(err)}` : `The controller did not answer: ${message(err)}`;
      this.changed();
      return;
    }
    this.changed();
    await this.resync();
    this.poll = setInterval(() => void this.pollRollouts(), POLL_MS);
    this.close = connectEvents({
      node: (n) => {
        this.fleet.upsert(n);
        this.changed();
      },
      drift: (d) => {
        this.drift = addDrift(this.drift, d);
        this.flashUntil.set(d.node, Date.now() + FLASH_MS);
        this.changed();
        setTimeout(() => this.changed(), FLASH_MS + 50);
      },
      rollout: (r) => {
        this.rollouts = mergeRollout(this.rollouts, r);
        if (this.shown?.id === r.id) this.refreshStatus();
        this.refreshHistory();
        this.changed();
      },
      journal: (e) => {
        if (this.shown?.id === e.rolloutId) this.refreshStatus();
      },
      wait: (w) => {
        if (this.shown?.id === w.rolloutId) this.refreshStatus();
      },
      leader: (l) => {
        this.leader = l;
        this.changed();
      },
      open: () => {
        this.link = 'live';
        // Events sent while the stream was down are lost: read everything again.
        if (this.sawDown) void this.resync();
        this.sawDown = false;
        this.changed();
      },
      down: () => {
        this.link = 'reconnecting';
        this.sawDown = true;
        this.changed();
      },
    });
  }

  stop(): void {
    this.close?.();
    clearInterval(this.poll);
  }

  private async pollRollouts(): Promise<void> {
    try {
      const before = this.shown;
      for (const r of (await api.rollouts(20)).rollouts) this.rollouts = mergeRollout(this.rollouts, r);
      const now = this.shown;
      if (now && (now.id !== before?.id || now.state === 'running' || now.state === 'paused' || now.revision !== this.status?.rollout.revision)) this.refreshStatus();
      if (now && now.revision !== before?.revision) this.refreshHistory();
      this.changed();
    } catch {
      // The link indicator and the next poll tell.
    }
  }

  private async resync(): Promise<void> {
    const errors: string[] = [];
    const part = async <T,>(what: string, p: Promise<T>, use: (v: T) => void) => {
      try {
        use(await p);
      } catch (err) {
        errors.push(`${what}: ${message(err)}`);
      }
    };
    await Promise.all([
      part('fleet', api.fleet(), (f) => {
        this.fleet.replace(keepNewer(this.fleet, f.nodes));
        this.drift = f.recentDrift.slice().reverse().slice(0, 50);
      }),
      part('rollouts', api.rollouts(20), (r) => (this.rollouts = r.rollouts)),
      part('history', api.history(100), (h) => (this.history = h.entries)),
      part('leader', api.leader(), (l) => (this.leader = l)),
    ]);
    this.errors = errors;
    this.changed();
    await this.loadStatus();
  }

  private async loadStatus(): Promise<void> {
    const r = this.shown;
    if (!r) {
      this.status = undefined;
      return;
    }
    try {
      const s = await api.rollout(r.id);
      if (this.shown?.id !== r.id) return;
      this.status = s;
      this.rollouts = mergeRollout(this.rollouts, s.rollout);
    } catch (err) {
      this.errors = [...this.errors.filter((e) => !e.startsWith('rollout ')), `rollout ${r.id}: ${message(err)}`];
    }
    this.changed();
  }

  readonly refreshStatus = throttled(() => this.loadStatus(), STATUS_EVERY_MS);
  readonly refreshHistory = throttled(async () => {
    try {
      this.history = (await api.history(100)).entries;
      this.changed();
    } catch {
      // The next rollout event or resync reads it again.
    }
  }, 1000);

  pick(id: string): void {
    this.picked = id;
    this.status = this.status?.rollout.id === id ? this.status : undefined;
    this.changed();
    void this.loadStatus();
  }

  async act(action: RolloutAction, reason: string): Promise<void> {
    const r = this.shown;
    if (!r) return;
    this.busy = true;
    this.actionError = undefined;
    this.changed();
    try {
      const next = action === 'pause' ? await api.pause(r.id, reason) : action === 'resume' ? await api.resume(r.id) : await api.abort(r.id, reason);
      this.rollouts = mergeRollout(this.rollouts, next);
      void this.loadStatus();
      this.refreshHistory();
    } catch (err) {
      const leaderUrl = this.leader?.leader?.url;
      this.actionError = `${action} refused: ${message(err)}${err instanceof ApiError && err.code === 'NOT_LEADER' && leaderUrl ? ` (the leader is ${leaderUrl})` : ''}`;
    } finally {
      this.busy = false;
      this.changed();
    }
  }
}

// A full read may answer with a node older than an event already applied: keep the newer.
function keepNewer(model: FleetModel, incoming: NodeJson[]): NodeJson[] {
  return incoming.map((n) => {
    const had = model.get(n.node);
    return had && had.updatedAt && n.updatedAt && had.updatedAt > n.updatedAt ? had : n;
  });
}
