// One line of /proc/self/mountinfo (proc(5)); paths and sources already unescaped.
export interface MountEntry {
  id: number;
  parentId: number;
  majorMinor: string;
  // root of the mount inside its filesystem: "/" for a whole filesystem, a folder for a bind mount
  root: string;
  mountPoint: string;
  // per-mount flags: rw/ro, nosuid, nodev, noexec, noatime, relatime...
  mountOptions: string[];
  fsType: string;
  source: string;
  // filesystem options: vers=4.1, errors=remount-ro, user_id=0...
  superOptions: string[];
}

// The kernel escapes space, tab, newline and backslash in mountinfo as \ooo (octal).
export function unescapeField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function escapeField(value: string): string {
  return value.replace(/[ \t\n\\]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
}

export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const fields = line.split(' ');
    // Optional fields (shared:N, master:N...) run up to the lone "-" separator.
    const sep = fields.indexOf('-', 6);
    if (sep < 0 || fields.length < sep + 4) continue;
    entries.push({
      id: Number(fields[0]),
      parentId: Number(fields[1]),
      majorMinor: fields[2],
      root: unescapeField(fields[3]),
      mountPoint: unescapeField(fields[4]),
      mountOptions: fields[5].split(','),
      fsType: unescapeField(fields[sep + 1]),
      source: unescapeField(fields[sep + 2]),
      superOptions: fields.slice(sep + 3).join(' ').split(',').filter(Boolean),
    });
  }
  return entries;
}

// The mount on top at a path: later lines of mountinfo stack over earlier ones.
export function topMount(entries: MountEntry[], mountPoint: string): MountEntry | undefined {
  let top: MountEntry | undefined;
  for (const e of entries) if (e.mountPoint === mountPoint) top = e;
  return top;
}

// Mounts strictly below a path: they keep the path busy for umount.
export function submounts(entries: MountEntry[], mountPoint: string): MountEntry[] {
  return entries.filter((e) => e.mountPoint.startsWith(mountPoint + '/'));
}
