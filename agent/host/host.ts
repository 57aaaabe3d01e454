import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import fss from 'node:fs';
import path from 'node:path';
import { TEMP_MARK, fsyncDir, writeFileAtomic, type WriteOptions } from '../../common/atomic-write.js';
import { AgentError } from '../errors.js';
import { checkPath, isWithin } from './path-policy.js';

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
  private realRoot?: string;

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

  // Maps a host path to the real path under the root, refusing symlink escapes. Only the folders
  // are followed: files are read with O_NOFOLLOW and replaced by rename, which never follows a link.
  async resolve(hostPath: string): Promise<string> {
    const normal = this.check(hostPath);
    const real = this.under(normal);
    await this.assertNoEscape(normal, path.dirname(real));
    return real;
  }

  // The agent's own state folder, outside the policy's trees by design.
  statePath(...parts: string[]): string {
    return path.join(this.under(this.stateDir), ...parts);
  }

  // Reads are synchronous: managed files are small and local, and a thread-pool round trip
  // per call cost more than the read itself (see docs/benchmarks.md).
  async read(hostPath: string): Promise<FileState | null> {
    const real = await this.resolve(hostPath);
    let fd: number;
    try {
      fd = fss.openSync(real, fss.constants.O_RDONLY | fss.constants.O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return null;
      if (code === 'ELOOP') throw new AgentError('IO_ERROR', `${hostPath} is a symlink, not a regular file`);
      throw err;
    }
    try {
      const st = fss.fstatSync(fd);
      if (!st.isFile()) throw new AgentError('IO_ERROR', `${hostPath} exists and is not a regular file`);
      return { content: fss.readFileSync(fd), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    } finally {
      fss.closeSync(fd);
    }
  }

  // Replaces a file atomically: dot-named temp file in the same folder, fsync, rename, fsync the
  // folder. `previous` is what the caller observed; it is kept as the backup without a re-read.
  async writeAtomic(hostPath: string, content: Buffer, options: WriteOptions, previous?: FileState | null): Promise<void> {
    const real = await this.resolve(hostPath);
    const old = previous === undefined ? await this.read(hostPath) : previous;
    if (old) await this.backup(hostPath, old);
    await writeFileAtomic(real, content, options);
  }

  async setAttributes(hostPath: string, options: WriteOptions): Promise<void> {
    const real = await this.resolve(hostPath);
    await fs.chmod(real, options.mode);
    if (options.uid !== undefined || options.gid !== undefined) {
      await fs.chown(real, options.uid ?? -1, options.gid ?? -1);
    }
  }

  async remove(hostPath: string): Promise<boolean> {
    const real = await this.resolve(hostPath);
    const old = await this.read(hostPath);
    if (old) await this.backup(hostPath, old);
    try {
      await fs.unlink(real);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    await fsyncDir(path.dirname(real));
    return true;
  }

  // Removes temp files a crash may have left beside managed files.
  async sweepTemp(hostPaths: Iterable<string>): Promise<string[]> {
    const dirs = new Set<string>();
    for (const p of hostPaths) dirs.add(path.dirname(await this.resolve(p)));
    const removed: string[] = [];
    for (const dir of dirs) {
      let names: string[] = [];
      try {
        names = await fs.readdir(dir);
      } catch {
        continue;
      }
      for (const name of names) {
        if (name.startsWith('.') && name.includes(TEMP_MARK)) {
          await fs.rm(path.join(dir, name), { force: true });
          removed.push(path.join(dir, name));
        }
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

  // Walks the existing part of the path: its real location must stay inside an allowed tree.
  private async assertNoEscape(hostPath: string, real: string): Promise<void> {
    this.realRoot ??= fss.realpathSync.native(this.root);
    let probe = real;
    for (;;) {
      let resolved: string;
      try {
        resolved = fss.realpathSync.native(probe);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        const parent = path.dirname(probe);
        if (parent === probe) break;
        probe = parent;
        continue;
      }
      const final = path.join(resolved, path.relative(probe, real));
      if (!isWithin(final, this.realRoot)) break;
      const asHost = '/' + path.relative(this.realRoot, final);
      if (this.allowedTrees.some((tree) => isWithin(asHost, tree))) return;
      // A single allowed file (/etc/fstab) lives in a folder no tree covers: that folder must be
      // exactly where the path says, with no symlink on the way.
      if (this.allowedTrees.includes(hostPath) && asHost === path.posix.dirname(hostPath)) return;
      break;
    }
    throw new AgentError('PATH_NOT_ALLOWED', `path ${hostPath} escapes the allowed trees through a symlink`);
  }
}
