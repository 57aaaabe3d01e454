import fs from 'node:fs';
import path from 'node:path';
import { AgentError } from '../errors.js';
import { isWithin } from './path-policy.js';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = fs.constants;
// As many symlinks as the kernel follows in one lookup (MAXSYMLINKS).
const MAX_HOPS = 40;

// An open folder under the host root. Names are resolved through /proc/self/fd/N, which the
// kernel maps to the folder the descriptor holds, never by walking the path again: a parent
// swapped for a symlink after the walk changes nothing for what is opened, renamed or removed here.
export class PinnedDir {
  constructor(readonly fd: number, readonly hostPath: string) {}

  // The path of a name inside this folder, for any path-taking call (open, rename, unlink, lstat).
  at(name = ''): string {
    return name ? `/proc/self/fd/${this.fd}/${name}` : `/proc/self/fd/${this.fd}`;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

export interface WalkOptions {
  // make the missing folders (mode 0755) on the way; otherwise a missing one gives { missing }
  create: boolean;
  // the real folder reached must satisfy this (a host path, symlinks resolved)
  allowed(hostDir: string): boolean;
  // says what was asked, for the errors
  what: string;
}

// Opens a host folder from the root down, one component at a time with O_NOFOLLOW|O_DIRECTORY.
// A symlink on the way is read, and the walk starts again from the root on its target: every
// folder the walk ends in was reached through descriptors alone and checked against the policy.
// Only folders are opened, so a FIFO or a device on the way is never opened (O_DIRECTORY fails).
// { missing } holds the host path the folder would have, symlinks on the way resolved.
export function openDir(realRoot: string, hostDir: string, o: WalkOptions): PinnedDir | { missing: string } {
  let pending = hostDir.split('/').filter(Boolean);
  let dir = new PinnedDir(fs.openSync(realRoot, O_RDONLY | O_DIRECTORY), '/');
  let hops = 0;
  let handedOver = false;
  try {
    while (pending.length) {
      const name = pending[0];
      let fd: number;
      try {
        fd = fs.openSync(dir.at(name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          const wanted = path.posix.join(dir.hostPath, ...pending);
          // Folders are made only on the way to an allowed one: a redirect cannot plant folders elsewhere.
          if (!o.allowed(wanted)) throw escape(o.what);
          if (!o.create) return { missing: wanted };
          try {
            fs.mkdirSync(dir.at(name), 0o755);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          }
          continue;
        }
        if (code !== 'ENOTDIR' && code !== 'ELOOP') throw err;
        const st = fs.lstatSync(dir.at(name));
        // A file where a folder should be: nothing below it exists (a read or removal is done), a write is refused.
        if (!st.isSymbolicLink() && !o.create) return { missing: path.posix.join(dir.hostPath, ...pending) };
        if (!st.isSymbolicLink()) throw new AgentError('NOT_REGULAR_FILE', `${path.posix.join(dir.hostPath, name)} is in the way of ${o.what} and is not a folder`);
        if (++hops > MAX_HOPS) throw new AgentError('PATH_NOT_ALLOWED', `path ${o.what} goes through more than ${MAX_HOPS} symlinks`);
        const target = fs.readlinkSync(dir.at(name));
        // Absolute targets are real paths (the root is / on a node); they must stay under the root.
        let hostTarget: string;
        if (path.isAbsolute(target)) {
          if (!isWithin(target, realRoot)) throw escape(o.what);
          hostTarget = '/' + path.relative(realRoot, target);
        } else {
          hostTarget = path.posix.normalize(path.posix.join(dir.hostPath, target));
        }
        pending = [...hostTarget.split('/').filter(Boolean), ...pending.slice(1)];
        dir.close();
        dir = new PinnedDir(fs.openSync(realRoot, O_RDONLY | O_DIRECTORY), '/');
        continue;
      }
      const next = new PinnedDir(fd, path.posix.join(dir.hostPath, name));
      dir.close();
      dir = next;
      pending = pending.slice(1);
    }
    if (!o.allowed(dir.hostPath)) throw escape(o.what);
    handedOver = true;
    return dir;
  } finally {
    if (!handedOver) dir.close();
  }
}

function escape(what: string): AgentError {
  return new AgentError('PATH_NOT_ALLOWED', `path ${what} escapes the allowed trees through a symlink`);
}
