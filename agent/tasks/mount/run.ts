import { AgentError } from '../../errors.js';
import { run, type ExecResult } from '../../host/exec.js';
import type { TaskContext } from '../task.js';

export const REDACTED = '(secret)';

export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join(REDACTED);
  return out;
}

export interface RunOptions {
  timeoutMs?: number;
  allowFailure?: boolean;
  // secrets never leave this function: not in the log line, not in an error message
  secrets?: readonly string[];
}

// Runs one command line without a shell; secrets in its arguments or output are redacted from
// everything that leaves: log lines, error messages.
export async function runArgv(ctx: TaskContext, argv: readonly string[], options: RunOptions = {}): Promise<ExecResult> {
  const secrets = options.secrets ?? [];
  ctx.log.debug({ argv: argv.map((a) => redact(a, secrets)) }, 'mount: run');
  try {
    return await run(argv[0], argv.slice(1), { timeoutMs: options.timeoutMs ?? 30_000, allowFailure: options.allowFailure });
  } catch (err) {
    if (isMissingProgram(err)) throw new AgentError('EXEC_FAILED', `${argv[0]} is not installed on this node`, { cause: (err as AgentError).cause });
    if (err instanceof AgentError) throw new AgentError(err.code, redact(err.message, secrets), { cause: err.cause });
    throw err;
  }
}

// True when the program itself is not installed (spawn failed with ENOENT).
export function isMissingProgram(err: unknown): boolean {
  return err instanceof AgentError && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

// The last lines of a failed command's output, for an error message.
export function tail(result: ExecResult, secrets: readonly string[] = []): string {
  return redact(`${result.stderr}\n${result.stdout}`.trim().split('\n').slice(-3).join(' | '), secrets);
}
