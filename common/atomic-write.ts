import { randomBytes } from 'node:crypto';
import fss, { constants as fsc } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

export interface WriteOptions {
  mode: number;
  uid?: number;
  gid?: number;
  // beforeRename sees the complete temp file (a config check); throwing keeps the old file.
  beforeRename?: (tempPath: string) => Promise<void>;
  // false: the folder must exist (a pinned folder, /proc/self/fd/N); default true makes it
  makeDir?: boolean;
  // The mode of a folder made (default 0755; a state folder holding keys wants 0700).
  dirMode?: number;
}

// Marks the temp files of an atomic write; dot-named, so the kubelet never loads one.
export const TEMP_MARK = '.muster-tmp-';

// Replaces a file atomically: dot-named temp file in the same folder, fsync, rename, fsync the
// folder. A reader sees the old bytes or the new ones, never a half-written file.
// O_NOFOLLOW: the random name cannot be a planted link, and O_EXCL refuses one anyway.
const TEMP_FLAGS = fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY | fsc.O_NOFOLLOW;
const fsync = promisify(fss.fsync);

function tempPath(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}${TEMP_MARK}${randomBytes(6).toString('hex')}`);
}

// The small steps (open, write, chmod, rename, close) are synchronous: on a managed file each
// took a thread-pool round trip that cost more CPU than the step (docs/benchmarks.md, "The
// agent's share per apply"). The two flushes stay on the pool: a slow disk's fsync must not
// hold the event loop.
export async function writeFileAtomic(file: string, content: string | Buffer, options: WriteOptions): Promise<void> {
  const dir = path.dirname(file);
  const tmp = tempPath(file);
  let fd: number;
  try {
    fd = fss.openSync(tmp, TEMP_FLAGS, 0o600);
  } catch (err) {
    // The folder is made only when missing: most writes land in one that exists.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || options.makeDir === false) throw err;
    await fs.mkdir(dir, { recursive: true, mode: options.dirMode ?? 0o755 });
    fd = fss.openSync(tmp, TEMP_FLAGS, 0o600);
  }
  try {
    try {
      fss.writeFileSync(fd, content);
      fss.fchmodSync(fd, options.mode);
      if (options.uid !== undefined || options.gid !== undefined) fss.fchownSync(fd, options.uid ?? -1, options.gid ?? -1);
      await fsync(fd);
    } finally {
      fss.closeSync(fd);
    }
    // A pinned folder's /proc/self/fd path means nothing in the checking child: name our pid.
    await options.beforeRename?.(tmp.replace(/^\/proc\/self\//, `/proc/${process.pid}/`));
    fss.renameSync(tmp, file);
  } catch (err) {
    fss.rmSync(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

export async function fsyncDir(dir: string): Promise<void> {
  const fd = fss.openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    await fsync(fd);
  } finally {
    fss.closeSync(fd);
  }
}

// The same replace, synchronous, for callers that must have the bytes on disk before they go on
// (the discovery store persists a registration before it answers anyone).
export function writeFileAtomicSync(file: string, content: string | Buffer, options: WriteOptions): void {
  const dir = path.dirname(file);
  const tmp = tempPath(file);
  if (options.makeDir !== false) fss.mkdirSync(dir, { recursive: true, mode: options.dirMode ?? 0o755 });
  const fd = fss.openSync(tmp, TEMP_FLAGS, 0o600);
  try {
    try {
      fss.writeFileSync(fd, content);
      fss.fchmodSync(fd, options.mode);
      if (options.uid !== undefined || options.gid !== undefined) fss.fchownSync(fd, options.uid ?? -1, options.gid ?? -1);
      fss.fsyncSync(fd);
    } finally {
      fss.closeSync(fd);
    }
    fss.renameSync(tmp, file);
  } catch (err) {
    fss.rmSync(tmp, { force: true });
    throw err;
  }
  const dh = fss.openSync(dir, 'r');
  try {
    fss.fsyncSync(dh);
  } finally {
    fss.closeSync(dh);
  }
}
