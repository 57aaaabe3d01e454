import type { Logger } from 'pino';
import type { Host } from '../host/host.js';
import type { Kernel } from '../host/kernel.js';
import type { AgentErrorCode } from '../errors.js';

// One difference between the spec and the host; secrets are redacted before they get here.
export interface Change {
  header: string;
  before: string;
  after: string;
}

export interface Problem {
  code: AgentErrorCode;
  message: string;
}

export interface Verdict {
  healthy: boolean;
  message?: string;
}

export interface TaskContext {
  host: Host;
  log: Logger;
  // what the kernel says (mount table, loop devices, systemd, device links); a fake in tests
  kernel: Kernel;
  // warn tells the operator something in the task's result (and the log), without failing it.
  warn?(message: string): void;
}

// The contract every task kind implements; see docs/architecture.md.
export interface Task<Spec, Observed> {
  kind: string;
  // keys are the units of identity: two tasks of one plan may not share one.
  keys(spec: Spec): string[];
  // validate is free of host changes; problems here stop the plan before anything is touched.
  validate(spec: Spec): Problem[];
  observe(spec: Spec, ctx: TaskContext): Promise<Observed>;
  // diff is pure; an empty list means converged.
  diff(spec: Spec, observed: Observed): Change[];
  // apply converges in one call or throws.
  apply(spec: Spec, observed: Observed, ctx: TaskContext): Promise<void>;
  verify?(spec: Spec, ctx: TaskContext): Promise<Verdict>;
  // watchPaths are the host paths drift watching follows.
  watchPaths?(spec: Spec): string[];
  // removal takes this task's state off the host once it leaves the plan: a task run like any
  // other (check mode included). kept(key) is true for keys the new plan still manages.
  // Undefined (or no method) leaves the host as it is.
  removal?(spec: Spec, kept: (key: string) => boolean): Removal | undefined;
}

export interface Removal {
  task: Task<unknown, unknown>;
  spec: unknown;
}
