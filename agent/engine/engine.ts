import type { Logger } from 'pino';
import {
  ApplyMode,
  ApplySummary,
  TaskResult,
  TaskStatus,
  type Plan,
} from '../../proto/gen/muster/agent/v1/agent.js';
import { AgentError, toAgentError } from '../errors.js';
import type { Host } from '../host/host.js';
import { linuxKernel, type Kernel } from '../host/kernel.js';
import { bind, type BoundTask } from '../tasks/index.js';
import type { Handler } from '../../proto/gen/muster/agent/v1/tasks.js';
import type { Problem, TaskContext } from '../tasks/task.js';
import { OwedHandlers } from './handlers.js';
import { Pruner } from './prune.js';
import { StateStore, type AgentState } from './state.js';

// Observers see every task result and summary (metrics, and later status streams).
export interface EngineObserver {
  task?(result: TaskResult): void;
  summary?(summary: ApplySummary): void;
  // applied is called when a new plan becomes the node's desired state.
  applied?(plan: Plan): void;
}

export interface RunOptions {
  mode: ApplyMode;
  onResult?: (result: TaskResult) => void;
  // keepState leaves the last applied plan and result as they are (drift checks and repairs).
  keepState?: boolean;
  // generation of the plan (ApplyRequest.generation), saved with it; 0 or unset when none.
  generation?: number;
}

// The most tasks one plan may hold (a node's plan has a few hundred); more is refused whole.
export const MAX_PLAN_TASKS = 10_000;

// The longest the engine runs tasks without giving the event loop a turn: tasks whose host I/O
// is synchronous would otherwise keep other clients' status calls waiting for the whole plan.
const YIELD_EVERY_MS = 2;

// Runs plans: validate everything → per task observe, diff, (check: report) apply,
// observe and diff again, verify. One run at a time per agent.
export class Engine {
  readonly state: StateStore;
  private readonly owed: OwedHandlers;
  private readonly pruner: Pruner;
  private current: AgentState = { revision: '', appliedAtMs: 0 };
  private running: 'apply' | 'drift' | undefined;
  private stopping = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(private readonly host: Host, private readonly log: Logger, private readonly observer: EngineObserver = {}, private readonly kernel: Kernel = linuxKernel(host.root)) {
    this.state = new StateStore(host);
    this.owed = new OwedHandlers(host);
    this.pruner = new Pruner(host);
  }

  async init(): Promise<void> {
    this.current = await this.state.load();
    await this.owed.load();
    await this.pruner.load();
    // A crash mid-write can leave a dot-named temp file beside a managed file.
    const paths = this.current.plan ? managedPaths(this.current.plan) : [];
    const removed = await this.host.sweepTemp(paths).catch(() => []);
    if (removed.length) this.log.warn({ removed }, 'removed temp files left by an interrupted write');
  }

  get status(): AgentState {
    return this.current;
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  // Lets the task in flight finish, skips the rest, and resolves when the run has ended.
  async drain(): Promise<void> {
    this.stopping = true;
    await this.idle;
  }

  // One run at a time. A controller's apply is refused while another controller apply runs,
  // but waits for a drift check or repair, which take milliseconds; drift runs wait their turn.
  async run(plan: Plan, options: RunOptions): Promise<ApplySummary> {
    if (plan.tasks.length > MAX_PLAN_TASKS) {
      throw new AgentError('PLAN_TOO_LARGE', `the plan has ${plan.tasks.length} tasks; an agent takes at most ${MAX_PLAN_TASKS} in one plan`);
    }
    const release = await this.lock(options.keepState ? 'drift' : 'apply');
    try {
      return await this.runLocked(plan, options);
    } finally {
      release();
    }
  }

  private async lock(kind: 'apply' | 'drift'): Promise<() => void> {
    for (;;) {
      if (this.stopping) throw new AgentError('SHUTTING_DOWN', 'the agent is stopping');
      if (this.running === undefined) break;
      if (this.running === 'apply' && kind === 'apply') throw new AgentError('APPLY_IN_PROGRESS', 'another apply is running on this agent');
      await this.idle;
    }
    this.running = kind;
    let done!: () => void;
    this.idle = new Promise((r) => (done = r));
    return () => {
      this.running = undefined;
      done();
    };
  }

  // Runs some tasks of the last applied plan again (all when ids is 'all'): drift repair in
  // APPLY mode, drift report in CHECK mode. The plan is read once the run holds the lock: a
  // controller apply that ran first must not be undone by a repair from the plan before it.
  // Returns undefined when there is no plan yet.
  async reconcile(ids: string[] | 'all', mode: ApplyMode): Promise<TaskResult[] | undefined> {
    const release = await this.lock('drift');
    try {
      const plan = this.current.plan;
      if (!plan) return undefined;
      const tasks = ids === 'all' ? plan.tasks : plan.tasks.filter((t) => ids.includes(t.id));
      const results: TaskResult[] = [];
      await this.runLocked({ ...plan, tasks }, { mode, keepState: true, onResult: (r) => results.push(r) });
      return results;
    } finally {
      release();
    }
  }

  private async runLocked(plan: Plan, { mode, onResult, keepState, generation }: RunOptions): Promise<ApplySummary> {
    const started = performance.now();
    const summary = ApplySummary.fromPartial({ node: plan.node, revision: plan.revision, mode });
    const emit = (r: TaskResult) => {
      count(summary, r.status);
      if (r.status === TaskStatus.TASK_STATUS_FAILED && !summary.failedTask) summary.failedTask = r.id;
      // Unchanged tasks are the bulk of every re-check: debug, so the log shows what happened.
      const quiet = r.status === TaskStatus.TASK_STATUS_OK || (r.status === TaskStatus.TASK_STATUS_SKIPPED && !r.errorCode);
      this.log[quiet ? 'debug' : 'info']({ task: r.id, kind: r.kind, status: TaskStatus[r.status], code: r.errorCode || undefined, us: r.durationUs }, r.errorMessage || 'task');
      this.observer.task?.(r);
      onResult?.(r);
    };

    const bound = plan.tasks.map((t) => bind(t));
    const problems = validatePlan(plan, bound, this.host);
    if (problems.size) {
      // A rejected plan leaves the host as it was: report, skip everything, touch nothing.
      plan.tasks.forEach((t, i) => {
        const p = problems.get(i);
        emit(TaskResult.fromPartial({
          id: t.id,
          kind: bound[i]?.kind ?? 'unknown',
          status: p ? TaskStatus.TASK_STATUS_FAILED : TaskStatus.TASK_STATUS_SKIPPED,
          errorCode: p?.code,
          errorMessage: p?.message,
        }));
      });
      return this.finish(summary, started, undefined);
    }

    const ctx: TaskContext = { host: this.host, log: this.log, kernel: this.kernel };
    const handlers = new Map(plan.handlers.map((h) => [h.id, h]));
    const wouldNotify = new Map<string, Handler>();
    let stopped = false;
    // What left the plan goes first: a port the old load balancer holds is free for the new one.
    if (!keepState) stopped = await this.prune(plan, mode, ctx, emit);
    const turn = eventLoopTurns();
    for (const [i, b] of (bound as BoundTask[]).entries()) {
      await turn();
      if (stopped || this.stopping) {
        const code = stopped ? undefined : 'SHUTTING_DOWN';
        emit(TaskResult.fromPartial({ id: b.id, kind: b.kind, status: TaskStatus.TASK_STATUS_SKIPPED, errorCode: code, errorMessage: code ? 'the agent is stopping' : undefined }));
        continue;
      }
      const result = await runTask(b, mode, ctx);
      const notified = (plan.tasks[i].notify ?? []).map((id) => handlers.get(id)!);
      // Owed before the result is reported: a crash right after still reloads next time.
      if (result.status === TaskStatus.TASK_STATUS_CHANGED) await this.owed.owe(notified);
      if (result.status === TaskStatus.TASK_STATUS_WOULD_CHANGE) for (const h of notified) wouldNotify.set(h.id, h);
      emit(result);
      if (result.status === TaskStatus.TASK_STATUS_FAILED) stopped = true;
    }
    if (mode === ApplyMode.APPLY_MODE_CHECK) {
      this.owed.report([...wouldNotify.values()], TaskStatus.TASK_STATUS_WOULD_CHANGE, '', emit);
    } else if (stopped || this.stopping) {
      this.owed.report([], TaskStatus.TASK_STATUS_SKIPPED, 'owed: runs at the end of the next apply that gets through every task', emit);
    } else {
      await this.owed.runAll(emit, plan.handlers);
    }
    return this.finish(summary, started, mode === ApplyMode.APPLY_MODE_APPLY && !keepState ? plan : undefined, generation);
  }

  // Removes what the last applied plan had and this one does not; true when a removal failed.
  private async prune(plan: Plan, mode: ApplyMode, ctx: TaskContext, emit: (r: TaskResult) => void): Promise<boolean> {
    const removals = this.pruner.removals(this.current.plan, plan);
    if (!removals.length) return false;
    if (mode === ApplyMode.APPLY_MODE_APPLY) await this.pruner.owe(removals);
    for (const r of removals) {
      if (this.stopping) return true;
      const result = await runTask(r.bound, mode, ctx);
      result.removal = true;
      // Already gone (a removal retried, a host cleaned by hand): nothing to report.
      if (result.status !== TaskStatus.TASK_STATUS_OK) emit(result);
      if (result.status === TaskStatus.TASK_STATUS_FAILED) return true;
      if (mode === ApplyMode.APPLY_MODE_APPLY) await this.pruner.done(r);
    }
    return false;
  }

  private async finish(summary: ApplySummary, started: number, applied: Plan | undefined, generation?: number): Promise<ApplySummary> {
    summary.durationUs = Math.round((performance.now() - started) * 1000);
    summary.converged = summary.failed === 0 && summary.skipped === 0 && summary.wouldChange === 0;
    if (applied) {
      this.current = { plan: applied, revision: applied.revision, appliedAtMs: Date.now(), lastResult: summary };
      await this.state.save(this.current, generation);
      this.observer.applied?.(applied);
    }
    this.observer.summary?.(summary);
    return summary;
  }
}

export async function runTask(b: BoundTask, mode: ApplyMode, shared: TaskContext): Promise<TaskResult> {
  const started = performance.now();
  const result = TaskResult.fromPartial({ id: b.id, kind: b.kind });
  const ctx: TaskContext = {
    ...shared,
    warn(message) {
      if (!result.warnings.includes(message)) result.warnings.push(message);
      shared.log.warn({ task: b.id }, message);
    },
  };
  try {
    const before = await b.task.observe(b.spec, ctx);
    const diffs = b.task.diff(b.spec, before);
    result.diffs = diffs;
    if (diffs.length === 0) {
      result.status = TaskStatus.TASK_STATUS_OK;
    } else if (mode === ApplyMode.APPLY_MODE_CHECK) {
      result.status = TaskStatus.TASK_STATUS_WOULD_CHANGE;
    } else {
      await b.task.apply(b.spec, before, ctx);
      const left = b.task.diff(b.spec, await b.task.observe(b.spec, ctx));
      if (left.length) {
        throw new AgentError('NOT_CONVERGED', `still differs after apply: ${left.map((d) => d.header).join(', ')}`);
      }
      result.status = TaskStatus.TASK_STATUS_CHANGED;
    }
    if (mode === ApplyMode.APPLY_MODE_APPLY && b.task.verify) {
      const verdict = await b.task.verify(b.spec, ctx);
      if (!verdict.healthy) throw new AgentError('NOT_CONVERGED', `verify failed: ${verdict.message ?? 'unhealthy'}`);
    }
  } catch (err) {
    const e = toAgentError(err);
    result.status = TaskStatus.TASK_STATUS_FAILED;
    result.errorCode = e.code;
    result.errorMessage = e.message;
  }
  result.durationUs = Math.round((performance.now() - started) * 1000);
  return result;
}

// Every problem of the plan, by task index, before anything is observed.
function validatePlan(plan: Plan, bound: (BoundTask | undefined)[], host: Host): Map<number, Problem> {
  const problems = new Map<number, Problem>();
  const ids = new Map<string, number>();
  const keys = new Map<string, string>();
  bound.forEach((b, i) => {
    const id = plan.tasks[i].id;
    const fail = (code: Problem['code'], message: string) => problems.has(i) || problems.set(i, { code, message });
    if (!id) fail('INVALID_PLAN', `task ${i + 1} has no id`);
    else if (ids.has(id)) fail('INVALID_PLAN', `task id ${id} is used twice`);
    ids.set(id, i);
    if (!b) return fail('INVALID_PLAN', `task ${id || i + 1} has no spec`);
    const missing = (plan.tasks[i].notify ?? []).filter((h) => !plan.handlers.some((x) => x.id === h && x.command.length > 0));
    if (missing.length) return fail('INVALID_PLAN', `task ${id} notifies ${missing.join(', ')}, which the plan does not define with a command`);
    let found: Problem[];
    try {
      found = b.task.validate(b.spec);
    } catch (err) {
      const e = toAgentError(err);
      found = [{ code: e.code, message: e.message }];
    }
    if (found.length) return fail(found[0].code, found.map((p) => p.message).join('; '));
    for (const key of b.task.keys(b.spec)) {
      // The path policy runs here, before any task touches the host.
      if (key.startsWith('file:')) {
        try {
          host.check(key.slice('file:'.length));
        } catch (err) {
          return fail(toAgentError(err).code, `task ${id}: ${(err as Error).message}`);
        }
      }
      const other = keys.get(key);
      if (other) return fail('INVALID_PLAN', `task ${id} and task ${other} both manage ${key}`);
      keys.set(key, id);
    }
  });
  return problems;
}

// Gives the event loop a turn when the caller has run YIELD_EVERY_MS since the last one.
function eventLoopTurns(): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < YIELD_EVERY_MS) return;
    await new Promise((resolve) => setImmediate(resolve));
    since = performance.now();
  };
}

function count(summary: ApplySummary, status: TaskStatus): void {
  if (status === TaskStatus.TASK_STATUS_OK) summary.ok++;
  else if (status === TaskStatus.TASK_STATUS_CHANGED) summary.changed++;
  else if (status === TaskStatus.TASK_STATUS_WOULD_CHANGE) summary.wouldChange++;
  else if (status === TaskStatus.TASK_STATUS_FAILED) summary.failed++;
  else if (status === TaskStatus.TASK_STATUS_SKIPPED) summary.skipped++;
}

export function managedPaths(plan: Plan): string[] {
  return plan.tasks.flatMap((t) => {
    const b = bind(t);
    return b?.task.watchPaths?.(b.spec) ?? [];
  });
}
