// Helpers for the storage (mount) system tests: daemons stopped by pid, loop devices, the
// stand-in programs on PATH, and the four-step timeline with cleanup of everything attached.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { findBinary, sleep, waitForPortsClosed } from './etcd.js';

export interface Daemon {
  name: string;
  pid: number;
  logFile: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  logs(lines?: number): string;
}

// Killed by pid if the test process exits before its cleanup ran.
const live = new Map<number, ChildProcess>();
let hooked = false;

export function startDaemon(name: string, binary: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): Daemon {
  const path = binary.includes('/') ? binary : findBinary(binary);
  if (!path) throw new Error(`${binary} is not installed`);
  // Output straight to a file: a daemon must never block on a pipe nobody drains.
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(path, args, { stdio: ['ignore', fd, fd], env });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${binary}`);
  live.set(pid, child);
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const p of live.keys()) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(pid);
      resolve({ code, signal });
    });
  });
  return {
    name,
    pid,
    logFile,
    child,
    exited,
    running: () => child.exitCode === null && child.signalCode === null,
    logs: (lines = 40) => {
      try {
        return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
  };
}

// SIGTERM by pid, SIGKILL after graceMs; resolves once the process has been reaped (we are its
// parent, so no zombie lingers) and the given ports refuse connections.
export async function stopDaemon(d: Daemon, ports: number[] = [], graceMs = 10_000, host = '127.0.0.1'): Promise<void> {
  if (d.running()) {
    try {
      process.kill(d.pid, 'SIGTERM');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(d.pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }, graceMs);
    await d.exited;
    clearTimeout(timer);
  }
  await waitForPortsClosed(host, ports, 15_000);
}

// Polls until check() is true; fails with the daemons' logs when they exit or time runs out.
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, daemons: Daemon[] = []): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const d of daemons) if (!d.running()) throw new Error(`${d.name} exited while waiting for ${what}:\n${d.logs()}`);
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${daemons.map((d) => `--- ${d.name}\n${d.logs(15)}`).join('\n')}`);
    await sleep(200);
  }
}
