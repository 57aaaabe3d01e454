import { spawn } from 'node:child_process';
import { AgentError } from '../errors.js';

export interface ExecOptions {
  timeoutMs?: number;
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  // allowFailure returns the result of a non-zero exit instead of throwing.
  allowFailure?: boolean;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

const MAX_OUTPUT = 1 << 20;

// Runs a program without a shell, kills its process group on timeout, and captures output.
export function run(command: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < MAX_OUTPUT) stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < MAX_OUTPUT) stderr += d.toString();
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new AgentError('EXEC_FAILED', `${command}: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const cmdline = [command, ...args].join(' ');
      if (timedOut) {
        reject(new AgentError('EXEC_TIMEOUT', `${cmdline}: killed after ${timeoutMs} ms`));
        return;
      }
      const result = { code: code ?? (signal ? 128 : 1), stdout, stderr };
      if (result.code !== 0 && !options.allowFailure) {
        const detail = stderr.trim().split('\n').slice(-3).join(' | ');
        reject(new AgentError('EXEC_FAILED', `${cmdline}: exit ${result.code}${detail ? `: ${detail}` : ''}`));
        return;
      }
      resolve(result);
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}
