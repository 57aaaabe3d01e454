import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import fss from 'node:fs';
import path from 'node:path';
import { TEMP_MARK, fsyncDir, writeFileAtomic, type WriteOptions } from '../../common/atomic-write.js';
import { AgentError } from '../errors.js';
import { checkPath, isWithin } from './path-policy.js';
import { openDir, type PinnedDir } from './pinned-dir.js';

export interface HostOptions {
  // root prefix: "/" on a real node, a temp folder in tests and simulations.
  root: string;
  allowedTrees: readonly string[];
  // stateDir is a host path (under root) for the agent's own files: plan, backups.
  stateDir: string;
  // backupsKept per managed path.
  backupsKept?: number;
}

export interface FileState {
  content: Buffer;
  mode: number;
  uid: number;
  gid: number;
}

export { writeFileAtomic, type WriteOptions };

// Everything the agent does to a host goes through here: root prefix, path policy,
// atomic replace, backups.
export class Host {
  readonly root: string;
  readonly allowedTrees: readonly string[];
  readonly stateDir: string;
  private readonly backupsKept: number;
  private realRootCache?: string;

  constructor(options: HostOptions) {
    this.root = path.resolve(options.root);
    this.allowedTrees = options.allowedTrees.map((t) => path.posix.normalize(t));
    this.stateDir = options.stateDir;
    this.backupsKept = options.backupsKept ?? 5;
  }

  // The pure policy check; no I/O.
  check(hostPath: string): string {
    return checkPath(hostPath, this.allowedTrees);
  }

  // Maps a host path to the real path under the root, refusing symlink escapes, for the programs
  // the agent runs (mount, losetup): they take a path. The agent's own I/O never goes by this
  // path but through pinned folders (pinned-dir.ts).
  async resolve(hostPath: string): Promise<string> {
    const { normal, dir } = this.parent(hostPath, false);
    if ('missing' in dir) return path.join(this.realRoot, dir.missing, path.posix.basename(normal));
    try {
      return path.join(this.realRoot, dir.hostPath, path.posix.basename(normal));
    } finally {
      dir.close();
    }
  }

  // The agent's own state folder, outside the policy's trees by design.
  statePath(...parts: string[]): string {
    return path.join(this.under(this.stateDir), ...parts);
  }

  // Reads are synchronous: managed files are small and local, and a thread-pool round trip
  // per call cost more than the read itself (see docs/benchmarks.md). Only a regular file is
  // ever opened: its type is known (lstat) before the open, so a FIFO or a device cannot block
  // the event loop, and the open itself cannot block either (O_NONBLOCK).
  async read(hostPath: string): Promise<FileState | null> {
    const { dir, name } = this.parent(hostPath, false);
    if ('missing' in dir) return null;
    try {
      const fd = openRegular(dir, name, hostPath, fss.constants.O_RDONLY);
      if (fd === null) return null;
      try {
        const st = fss.fstatSync(fd);
        return { content: fss.readFileSync(fd), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      } finally {
        fss.closeSync(fd);
      }
    } finally {
      dir.close();
    }
  }

  // Replaces a file atomically: dot-named temp file in the same folder, fsync, rename, fsync the
  // folder, all inside the pinned folder. `previous` is what the caller observed; it is kept as
  // the backup without a re-read.
  async writeAtomic(hostPath: string, content: Buffer, options: WriteOptions, previous?: FileState | null): Promise<void> {
    const old = previous === undefined ? await this.read(hostPath) : previous;
    if (old) await this.backup(hostPath, old);
    await this.inParent(hostPath, (dir, name) => writeFileAtomic(dir.at(name), content, { ...options, makeDir: false }));
  }

  async setAttributes(hostPath: string, options: WriteOptions): Promise<void> {
    await this.inParent(hostPath, async (dir, name) => {
      const fd = openRegular(dir, name, hostPath, fss.constants.O_RDONLY);
      if (fd === null) throw new AgentError('IO_ERROR', `${hostPath} does not exist`);
      try {
        fss.fchmodSync(fd, options.mode);
        if (options.uid !== undefined || options.gid !== undefined) fss.fchownSync(fd, options.uid ?? -1, options.gid ?? -1);
      } finally {
        fss.closeSync(fd);
      }
    });
  }

  async remove(hostPath: string): Promise<boolean> {
    const old = await this.read(hostPath);
    if (old) await this.backup(hostPath, old);
    const { dir, name } = this.parent(hostPath, false);
    if ('missing' in dir) return false;
    try {
      try {
        fss.unlinkSync(dir.at(name));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw err;
      }
      await fsyncDir(dir.at());
      return true;
    } finally {
      dir.close();
    }
  }

  // Makes a folder and its missing parents (mount points, the rbd-fuse folder).
  async mkdir(hostPath: string): Promise<void> {
    const normal = this.check(hostPath);
    this.open(normal, normal, true).close();
  }

  // Removes an empty folder; true when it was there.
  async rmdir(hostPath: string): Promise<boolean> {
    const { dir, name } = this.parent(hostPath, false);
    if ('missing' in dir) return false;
    try {
      fss.rmdirSync(dir.at(name));
      return true;
    } catch (err) {
      if (['ENOENT', 'ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) return false;
      throw err;
    } finally {
      dir.close();
    }
  }

  // What a symlink points at; null when absent, "(not a symlink)" when something else is there.
  async readLink(hostPath: string): Promise<string | null> {
    const { dir, name } = this.parent(hostPath, false);
    if ('missing' in dir) return null;
    try {
      return fss.readlinkSync(dir.at(name));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return null;
      if (code === 'EINVAL') return '(not a symlink)';
      throw err;
    } finally {
      dir.close();
    }
  }

  // Puts a symlink (an enable link) at a path, or removes it (target null); the link itself is
  // never followed. A regular file or other link there is replaced.
  async setLink(hostPath: string, target: string | null): Promise<void> {
    await this.inParent(hostPath, async (dir, name) => {
      fss.rmSync(dir.at(name), { force: true });
      if (target !== null) fss.symlinkSync(target, dir.at(name));
      await fsyncDir(dir.at());
    }, target !== null);
  }

  // Removes temp files a crash may have left beside managed files.
  async sweepTemp(hostPaths: Iterable<string>): Promise<string[]> {
    const removed: string[] = [];
    const seen = new Set<string>();
    for (const hostPath of hostPaths) {
      const { dir } = this.parent(hostPath, false);
      if ('missing' in dir) continue;
      try {
        if (seen.has(dir.hostPath)) continue;
        seen.add(dir.hostPath);
        for (const name of fss.readdirSync(dir.at())) {
          if (name.startsWith('.') && name.includes(TEMP_MARK)) {
            fss.rmSync(dir.at(name), { force: true });
            removed.push(path.join(this.realRoot, dir.hostPath, name));
          }
        }
      } finally {
        dir.close();
      }
    }
    return removed;
  }

  // Keeps the previous content under the state folder, never beside the file: the kubelet
  // would load a backup left in the manifests folder.
  private async backup(hostPath: string, old: FileState): Promise<void> {
    const { content, mode } = old;
    const dir = this.statePath('backups', hostPath.replace(/^\/+/, '').replace(/\//g, '%'));
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    await writeFileAtomic(path.join(dir, `${stamp}-${randomBytes(3).toString('hex')}`), content, { mode: mode & 0o600 || 0o600 });
    const kept = (await fs.readdir(dir)).filter((n) => !n.startsWith('.')).sort();
    for (const old of kept.slice(0, Math.max(0, kept.length - this.backupsKept))) {
      await fs.rm(path.join(dir, old), { force: true });
    }
  }

  private under(hostPath: string): string {
    return path.join(this.root, hostPath);
  }

  private get realRoot(): string {
    this.realRootCache ??= fss.realpathSync.native(this.root);
    return this.realRootCache;
  }

  // The folder a host path lives in, pinned, after the policy check; { missing } when a folder
  // on the way does not exist yet (the host path it would have).
  private parent(hostPath: string, create: boolean): { normal: string; name: string; dir: PinnedDir | { missing: string } } {
    const normal = this.check(hostPath);
    return { normal, name: path.posix.basename(normal), dir: this.open(path.posix.dirname(normal), normal, create) };
  }

  private open(hostDir: string, hostPath: string, create: true): PinnedDir;
  private open(hostDir: string, hostPath: string, create: boolean): PinnedDir | { missing: string };
  private open(hostDir: string, hostPath: string, create: boolean): PinnedDir | { missing: string } {
    // A single allowed file (/etc/fstab) lives in a folder no tree covers: that folder must be
    // exactly where the path says.
    const allowed = (dir: string) => this.allowedTrees.some((tree) => isWithin(dir, tree)) || (this.allowedTrees.includes(hostPath) && dir === path.posix.dirname(hostPath));
    return openDir(this.realRoot, hostDir, { create, allowed, what: hostPath });
  }

  // Runs fn in the pinned parent folder of a host path (made when missing), and closes it after.
  private async inParent<T>(hostPath: string, fn: (dir: PinnedDir, name: string) => Promise<T>, create = true): Promise<T | undefined> {
    const { dir, name } = this.parent(hostPath, create);
    if ('missing' in dir) return undefined;
    try {
      return await fn(dir, name);
    } finally {
      dir.close();
    }
  }
}

// Opens a regular file in a pinned folder without following a link and without blocking: the
// type is checked before the open (lstat) and again on the descriptor (a swap in between).
// Null when there is no such file.
function openRegular(dir: PinnedDir, name: string, hostPath: string, flags: number): number | null {
  let st: fss.Stats;
  try {
    st = fss.lstatSync(dir.at(name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  refuseNonRegular(st, hostPath);
  const { O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = fss.constants;
  let fd: number;
  try {
    fd = fss.openSync(dir.at(name), flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw new AgentError('IO_ERROR', `${hostPath} is a symlink, not a regular file`);
    throw err;
  }
  try {
    const now = fss.fstatSync(fd);
    refuseNonRegular(now, hostPath);
    if (now.ino !== st.ino || now.dev !== st.dev) throw new AgentError('IO_ERROR', `${hostPath} was replaced while it was being opened; try again`);
  } catch (err) {
    fss.closeSync(fd);
    throw err;
  }
  return fd;
}

function refuseNonRegular(st: fss.Stats, hostPath: string): void {
  if (st.isFile()) return;
  if (st.isSymbolicLink()) throw new AgentError('IO_ERROR', `${hostPath} is a symlink, not a regular file`);
  const kind = st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isDirectory() ? 'a folder' : 'not a regular file';
  throw new AgentError('NOT_REGULAR_FILE', `${hostPath} is ${kind}, not a regular file; refused without opening it`);
}
