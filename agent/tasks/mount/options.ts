import type { MountEntry } from '../../host/mountinfo.js';

// Options that mount helpers, fstab and systemd consume: the kernel never shows them.
const USERSPACE_ONLY = new Set([
  'defaults', 'auto', 'noauto', 'nofail', '_netdev', 'user', 'users', 'nouser', 'owner', 'group', 'loop',
  'secretfile', 'backup-volfile-servers', 'backupvolfile-server', 'log-level', 'log-file', 'transport',
]);

// Filesystem defaults the kernel leaves out of mountinfo (checked with ext4 and xfs on 6.x):
// naming one is harmless and cannot be compared.
const HIDDEN_DEFAULTS = new Set(['acl', 'user_xattr', 'barrier', 'barrier=1', 'commit=5', 'auto_da_alloc', 'delalloc', 'inode64', 'attr2', 'async']);

// Per-mount flags every filesystem shows in mountinfo, with their opposites.
const VFS_PAIRS: Record<string, { live: string; set: boolean }> = {
  ro: { live: 'ro', set: true },
  rw: { live: 'rw', set: true },
  nosuid: { live: 'nosuid', set: true },
  suid: { live: 'nosuid', set: false },
  nodev: { live: 'nodev', set: true },
  dev: { live: 'nodev', set: false },
  noexec: { live: 'noexec', set: true },
  exec: { live: 'noexec', set: false },
  noatime: { live: 'noatime', set: true },
  relatime: { live: 'relatime', set: true },
  atime: { live: 'noatime', set: false },
  nodiratime: { live: 'nodiratime', set: true },
  diratime: { live: 'nodiratime', set: false },
  sync: { live: 'sync', set: true },
  dirsync: { live: 'dirsync', set: true },
  lazytime: { live: 'lazytime', set: true },
  nolazytime: { live: 'lazytime', set: false },
};

export interface OptionDifference {
  option: string;
  // what the live mount says about it: the conflicting value, or "(not set)"
  live: string;
}

export function keyOf(option: string): string {
  const eq = option.indexOf('=');
  return eq < 0 ? option : option.slice(0, eq);
}

export function isUserspaceOnly(option: string): boolean {
  const key = keyOf(option);
  return USERSPACE_ONLY.has(key) || key.startsWith('x-') || key.startsWith('comment');
}

export function isVfsFlag(option: string): boolean {
  return option in VFS_PAIRS || option === 'strictatime';
}

// The options the spec names that the live mount contradicts or lacks. Options the kernel adds on
// its own are not compared. fsVisible is false for FUSE clients, which consume their options in
// userspace: only the per-mount flags are compared there.
export function optionDifferences(wanted: readonly string[], live: MountEntry, fsVisible: boolean): OptionDifference[] {
  const liveAll = [...live.mountOptions, ...live.superOptions];
  const has = (o: string) => liveAll.includes(o);
  const diffs: OptionDifference[] = [];
  for (const option of wanted) {
    if (isUserspaceOnly(option)) continue;
    if (option === 'strictatime') {
      const other = liveAll.find((o) => o === 'noatime' || o === 'relatime');
      if (other) diffs.push({ option, live: other });
      continue;
    }
    const pair = VFS_PAIRS[option];
    if (pair) {
      if (has(pair.live) !== pair.set) diffs.push({ option, live: describeFlag(option, liveAll) });
      continue;
    }
    if (!fsVisible || HIDDEN_DEFAULTS.has(option)) continue;
    const key = keyOf(option);
    if (key === option) {
      if (!has(option)) diffs.push({ option, live: has(`no${option}`) ? `no${option}` : '(not set)' });
      continue;
    }
    const current = liveAll.find((o) => keyOf(o) === key);
    if (current !== option) diffs.push({ option, live: current ?? '(not set)' });
  }
  return diffs;
}

// What the live mount says instead of the flag the spec asks for.
function describeFlag(option: string, liveAll: string[]): string {
  if (option === 'ro' || option === 'rw') return liveAll.find((o) => o === 'ro' || o === 'rw') ?? '(not set)';
  if (['noatime', 'relatime', 'atime'].includes(option)) return liveAll.find((o) => o === 'noatime' || o === 'relatime') ?? 'strictatime';
  const pair = VFS_PAIRS[option];
  return pair.set ? '(not set)' : pair.live;
}
