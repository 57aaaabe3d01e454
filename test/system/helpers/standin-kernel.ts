// The kernel as the mount stand-in (standins/mount) makes it look: this machine has no NFS or
// CephFS kernel client, so the stand-in bind-mounts a folder and records what the missing driver
// would have shown. The test hands the agent this kernel through the library API (the task
// context's kernel); the agent's own code reads the real mount table only.
import fs from 'node:fs/promises';
import path from 'node:path';
import { linuxKernel, type Kernel } from '../../../agent/host/kernel.js';
import { unescapeField, type MountEntry } from '../../../agent/host/mountinfo.js';

// One line per stand-in mount: "<id> <root> <mount point> <fs type> <source> <super options>",
// escaped like mountinfo. A line applies only to the mount with that id, root and mount point:
// ids are reused, and a later real mount must stay itself.
export function applyOverlay(entries: MountEntry[], overlay: string): MountEntry[] {
  const lines = overlay.split('\n').map((l) => l.trim().split(' ')).filter((f) => f.length >= 6);
  return entries.map((e) => {
    const f = [...lines].reverse().find((x) => Number(x[0]) === e.id && unescapeField(x[1]) === e.root && unescapeField(x[2]) === e.mountPoint);
    if (!f) return e;
    return { ...e, root: '/', fsType: unescapeField(f[3]), source: unescapeField(f[4]), superOptions: f.slice(5).join(' ').split(',').filter(Boolean) };
  });
}

export const OVERLAY_FILE = 'mountinfo-overlay';

// The real kernel, with the stand-in's mounts shown as the driver would show them.
export function standinKernel(standinDir: string): Kernel {
  const real = linuxKernel();
  return {
    ...real,
    async mountTable() {
      const overlay = await fs.readFile(path.join(standinDir, OVERLAY_FILE), 'utf8').catch(() => '');
      return applyOverlay(await real.mountTable(), overlay);
    },
  };
}
