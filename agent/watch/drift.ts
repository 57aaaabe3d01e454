import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import { TEMP_MARK } from '../../common/atomic-write.js';
import { ApplyMode, DriftPolicy, TaskStatus, type DriftEvent, type Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import type { Engine } from '../engine/engine.js';
import type { Host } from '../host/host.js';
import { bind } from '../tasks/index.js';

export interface DriftOptions {
  // debounceMs gathers the events of one edit (an editor's write, chmod, rename) into one check.
  debounceMs?: number;
  // recheckMs is the period of the full re-check that covers what file events cannot see
  // (mounts, sessions, a watcher overflow, a folder deleted whole).
  recheckMs?: number;
}

// The first lands just past chokidar's 50 ms change throttle.
const TRAILING_CHECKS_MS = [70, 300, 1000, 3000];

interface Pending {
  firstAt: number;
  what: string;
  path: string;
}

// Watches every managed path of the last applied plan. An outside edit or deletion is
// checked and, by the plan's policy, put back (enforce) or left and reported (report). Works
// without the controller: the plan comes from the agent's state folder. The agent's own writes
// end in a check that finds nothing to do, so they never start a repair loop.
export class DriftWatcher {
  private watcher?: FSWatcher;
  private taskOf = new Map<string, string>(); // host path → task id
  private pending = new Map<string, Pending>(); // task id → first event
  private flushTimer?: NodeJS.Timeout;
  private recheckTimer?: NodeJS.Timeout;
  private flushing = false;
  private policy = DriftPolicy.DRIFT_POLICY_ENFORCE;
  private closed = false;
  // checks and batches still running: close() waits for them
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly wakeOnClose = new Set<() => void>();
  private rewatch = false;
  private readonly trailing: { ids: Set<string>; timer?: NodeJS.Timeout }[] = [];

  constructor(
    private readonly engine: Engine,
    private readonly host: Host,
    private readonly log: Logger,
    private readonly report: (event: DriftEvent) => void,
    private readonly options: DriftOptions = {},
  ) {}

  async follow(plan: Plan | undefined): Promise<void> {
    if (this.closed) return;
    await this.watcher?.close();
    this.watcher = undefined;
    this.taskOf.clear();
    this.policy = plan?.driftPolicy === DriftPolicy.DRIFT_POLICY_REPORT ? DriftPolicy.DRIFT_POLICY_REPORT : DriftPolicy.DRIFT_POLICY_ENFORCE;
    if (!plan) return;
    for (const t of plan.tasks) {
      const b = bind(t);
      for (const p of b?.task.watchPaths?.(b.spec) ?? []) this.taskOf.set(p, t.id);
    }
    const dirs = [...new Set([...this.taskOf.keys()].map((p) => path.dirname(path.join(this.host.root, p))))];
    this.watcher = watch(dirs, {
      ignoreInitial: true,
      depth: 0,
      // atomic would hold a deletion back up to 100 ms to see whether it comes back
      atomic: false,
      ignored: (p: string) => path.basename(p).includes(TEMP_MARK),
    });
    this.watcher.on('all', (event, real) => this.onEvent(event, real));
    this.watcher.on('error', (err) => this.log.warn({ err: (err as Error).message }, 'file watcher error; the periodic re-check covers it'));
    // A watcher closed before it is ready never says so: close() wakes this wait too.
    await new Promise<void>((resolve) => {
      this.wakeOnClose.add(resolve);
      this.watcher!.once('ready', () => resolve());
    }).finally(() => this.wakeOnClose.clear());
    if (!this.closed) this.scheduleRecheck();
  }

  // Resolves once no check or repair of this watcher is still writing to the host.
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.flushTimer);
    clearTimeout(this.recheckTimer);
    for (const slot of this.trailing) clearTimeout(slot.timer);
    for (const wake of this.wakeOnClose) wake();
    await this.watcher?.close();
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
    // A batch that was rebuilding the watch when closed may have made a new one.
    await this.watcher?.close();
  }

  private track<T>(run: Promise<T>): Promise<T> {
    this.inFlight.add(run);
    return run.finally(() => this.inFlight.delete(run));
  }

  private onEvent(event: string, real: string): void {
    const hostPath = '/' + path.relative(this.host.root, real);
    const now = Date.now();
    const touched = event === 'unlinkDir' ? [...this.taskOf].filter(([p]) => p.startsWith(hostPath + '/')) : this.taskOf.has(hostPath) ? [[hostPath, this.taskOf.get(hostPath)!] as const] : [];
    // A folder deleted whole takes its watch with it, and whether chokidar reports the folder
    // depends on timing: after any deletion, watch again once the repair has put it back.
    if (event.startsWith('unlink') && touched.length) this.rewatch = true;
    for (const [p, id] of touched) {
      if (!this.pending.has(id)) this.pending.set(id, { firstAt: now, what: event.startsWith('unlink') ? 'deleted' : 'changed', path: p });
    }
    if (touched.length && !this.flushTimer) this.flushTimer = setTimeout(() => void this.track(this.flush()), this.options.debounceMs ?? 10);
  }

  private async flush(): Promise<void> {
    this.flushTimer = undefined;
    if (this.flushing || this.closed) return;
    this.flushing = true;
    const batch = new Map(this.pending);
    this.pending.clear();
    try {
      await this.reconcile([...batch.keys()], (id) => batch.get(id));
      this.trailingCheck([...batch.keys()]);
      if (this.rewatch && !this.closed) {
        this.rewatch = false;
        await this.follow(this.engine.status.plan);
        // Any edit made while the watch was being rebuilt left no event: look at everything.
        await this.reconcile('all');
      }
    } finally {
      this.flushing = false;
      // Events that came in while this batch ran get their own check.
      if (this.pending.size && !this.closed) this.flushTimer = setTimeout(() => void this.track(this.flush()), 0);
    }
  }

  // Checks (and, when enforcing, repairs) the given tasks, reporting every one that drifted.
  reconcile(ids: string[] | 'all', cause: (id: string) => Pending | undefined = () => undefined): Promise<DriftEvent[]> {
    return this.track(this.check(ids, cause));
  }

  private async check(ids: string[] | 'all', cause: (id: string) => Pending | undefined): Promise<DriftEvent[]> {
    const mode = this.policy === DriftPolicy.DRIFT_POLICY_REPORT ? ApplyMode.APPLY_MODE_CHECK : ApplyMode.APPLY_MODE_APPLY;
    let results;
    try {
      results = await this.engine.reconcile(ids, mode);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'drift check did not run');
      return [];
    }
    const events: DriftEvent[] = [];
    // A repair found by a later look also wrote the file: it gets the same trailing looks.
    const repairedLater = (results ?? []).filter((r) => r.kind !== 'handler' && r.status === TaskStatus.TASK_STATUS_CHANGED && !cause(r.id)).map((r) => r.id);
    if (repairedLater.length) this.trailingCheck(repairedLater);
    for (const r of results ?? []) {
      if (r.kind === 'handler') continue;
      const drifted = r.status === TaskStatus.TASK_STATUS_CHANGED || r.status === TaskStatus.TASK_STATUS_WOULD_CHANGE || r.status === TaskStatus.TASK_STATUS_FAILED;
      if (!drifted) continue;
      const c = cause(r.id);
      const now = Date.now();
      const event: DriftEvent = {
        taskId: r.id,
        path: c?.path ?? r.diffs.map((d) => d.header).join(', '),
        what: c?.what ?? 'recheck',
        repaired: r.status === TaskStatus.TASK_STATUS_CHANGED,
        error: r.errorMessage,
        atMs: now,
        repairUs: c && r.status === TaskStatus.TASK_STATUS_CHANGED ? (now - c.firstAt) * 1000 : 0,
      };
      this.log.warn({ task: r.id, path: event.path, what: event.what, repaired: event.repaired, error: event.error || undefined }, 'drift');
      events.push(event);
      this.report(event);
    }
    return events;
  }

  // chokidar drops a file's change events for 50 ms after one it emitted, and re-watches a file
  // the repair replaced by rename: an edit in those windows leaves no event. Look again just
  // after them, then a few times more, so such an edit waits seconds, not the minute's re-check.
  private trailingCheck(ids: string[]): void {
    for (const [i, delay] of TRAILING_CHECKS_MS.entries()) {
      const slot = (this.trailing[i] ??= { ids: new Set<string>() });
      for (const id of ids) slot.ids.add(id);
      if (slot.timer) continue;
      slot.timer = setTimeout(() => {
        slot.timer = undefined;
        const due = [...slot.ids];
        slot.ids.clear();
        if (!this.closed) void this.reconcile(due);
      }, delay);
      slot.timer.unref();
    }
  }

  private scheduleRecheck(): void {
    clearTimeout(this.recheckTimer);
    const every = this.options.recheckMs ?? 60_000;
    this.recheckTimer = setTimeout(async () => {
      await this.reconcile('all');
      if (!this.closed) this.scheduleRecheck();
    }, every);
    this.recheckTimer.unref();
  }
}
