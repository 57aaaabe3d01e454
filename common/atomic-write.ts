import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface WriteOptions {
  mode: number;
  uid?: number;
  gid?: number;
  // false: the folder must exist (a pinned folder, /proc/self/fd/N); default true makes it
  makeDir?: boolean;
}

// Marks the temp files of an atomic write; dot-named, so the kubelet never loads one.
export const TEMP_MARK = '.muster-tmp-';

// Replaces a file atomically: dot-named temp file in the same folder, fsync, rename, fsync the
// folder. A reader sees the old bytes or the new ones, never a half-written file.
export async function writeFileAtomic(file: string, content: string | Buffer, options: WriteOptions): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}${TEMP_MARK}${randomBytes(6).toString('hex')}`);
  // O_NOFOLLOW: the random name cannot be a planted link, and O_EXCL refuses one anyway.
  const flags = fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY | fsc.O_NOFOLLOW;
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(tmp, flags, 0o600);
  } catch (err) {
    // The folder is made only when missing: most writes land in one that exists.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || options.makeDir === false) throw err;
    await fs.mkdir(dir, { recursive: true, mode: 0o755 });
    fh = await fs.open(tmp, flags, 0o600);
  }
  try {
    try {
      await fh.writeFile(content);
      await fh.chmod(options.mode);
      if (options.uid !== undefined || options.gid !== undefined) await fh.chown(options.uid ?? -1, options.gid ?? -1);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

export async function fsyncDir(dir: string): Promise<void> {
  const dh = await fs.open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
