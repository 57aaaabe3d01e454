import { AgentError } from '../errors.js';
import { run, type ExecResult } from '../host/exec.js';
import { isMissingProgram } from './mount/run.js';
import type { TaskContext } from './task.js';

export interface SystemRunOptions {
  timeoutMs?: number;
  allowFailure?: boolean;
  env?: Record<string, string>;
}

// Runs one command line of a system kind (apt, systemctl, modprobe, swapoff) without a shell.
export async function runSystem(ctx: TaskContext, argv: readonly string[], options: SystemRunOptions = {}): Promise<ExecResult> {
  ctx.log.debug({ argv }, 'run');
  try {
    return await run(argv[0], argv.slice(1), {
      timeoutMs: options.timeoutMs ?? 60_000,
      allowFailure: options.allowFailure,
      env: options.env ? { ...process.env, ...options.env } : undefined,
    });
  } catch (err) {
    if (isMissingProgram(err)) throw new AgentError('EXEC_FAILED', `${argv[0]} is not installed on this node`, { cause: (err as AgentError).cause });
    throw err;
  }
}
