import os from 'node:os';
import { ControllerError } from '../errors.js';
import type { LockHolder, Store } from '../store/store.js';

// One runner at a time per state folder: `muster rollout`, `resume` and `undo` hold this lock
// while they drive a rollout, so two controllers never dispatch the same rollout's nodes.
export const ROLLOUT_LOCK = 'rollout';

// Whether a process is alive: signal 0 checks without sending anything (EPERM: alive, not ours).
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function selfHolder(purpose: string, now = Date.now()): LockHolder {
  return { pid: process.pid, host: os.hostname(), user: os.userInfo().username, sinceMs: now, purpose };
}

// A holder can be replaced only when it is this process, or a dead process on this host; a
// holder on another host cannot be checked from here and is never taken over.
export function staleOn(self: LockHolder, alive: (pid: number) => boolean = pidAlive): (h: LockHolder) => boolean {
  return (h) => h.host === self.host && (h.pid === self.pid || !alive(h.pid));
}

// Takes the rollout lock or refuses (ROLLOUT_LOCKED, naming the holder); returns the release.
export async function takeRolloutLock(store: Store, purpose: string, self: LockHolder = selfHolder(purpose), alive?: (pid: number) => boolean): Promise<() => Promise<void>> {
  const holder = await store.acquireLock(ROLLOUT_LOCK, self, staleOn(self, alive));
  if (holder) {
    const since = new Date(holder.sinceMs).toISOString();
    const elsewhere = holder.host === self.host ? '' : `; muster cannot check a process on another host: if that controller is gone for good, end it there or wait for it to stop`;
    throw new ControllerError('ROLLOUT_LOCKED', `another muster is running ${holder.purpose}: pid ${holder.pid} on ${holder.host} (${holder.user}), since ${since}; two controllers must never drive a rollout at once: wait for it, or pause it with "muster rollout pause"${elsewhere}`);
  }
  return () => store.releaseLock(ROLLOUT_LOCK, self);
}
