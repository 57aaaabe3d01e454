import fs from 'node:fs/promises';
import path from 'node:path';
import { parseMountinfo, type MountEntry } from './mountinfo.js';

// A loop device and the file behind it.
export interface LoopDevice {
  device: string;
  backingFile: string;
}

// The one seam between the agent and what the kernel tells it: the mount table, loop devices,
// whether systemd runs the machine, and where device links point. Tasks read these through
// their context (ctx.kernel), so a test gives a fake one instead of patching the agent.
export interface Kernel {
  // /proc/self/mountinfo, parsed
  mountTable(): Promise<MountEntry[]>;
  // /sys/block/loop*/loop/backing_file
  loopDevices(): Promise<LoopDevice[]>;
  // systemd is PID 1 (/run/systemd/system exists, as sd_booted(3) checks)
  systemdBooted(): Promise<boolean>;
  // the real path behind a device path or udev link (/dev/disk/by-path/...), null when absent
  realpath(p: string): Promise<string | null>;
}

export const linuxKernel: Kernel = {
  async mountTable() {
    return parseMountinfo(await fs.readFile('/proc/self/mountinfo', 'utf8'));
  },
  async loopDevices() {
    const names = (await fs.readdir('/sys/block').catch(() => [] as string[])).filter((n) => n.startsWith('loop'));
    const out: LoopDevice[] = [];
    for (const name of names) {
      const backingFile = (await fs.readFile(path.join('/sys/block', name, 'loop', 'backing_file'), 'utf8').catch(() => '')).trim();
      if (backingFile) out.push({ device: `/dev/${name}`, backingFile });
    }
    return out;
  },
  systemdBooted: () => fs.stat('/run/systemd/system').then(() => true, () => false),
  realpath: (p) => fs.realpath(p).catch(() => null),
};

// A kernel for tests: a mount table, loop devices and links as the test sets them.
export class FakeKernel implements Kernel {
  mounts: MountEntry[] = [];
  loops: LoopDevice[] = [];
  booted = false;
  links = new Map<string, string>();

  async mountTable(): Promise<MountEntry[]> {
    return this.mounts;
  }

  async loopDevices(): Promise<LoopDevice[]> {
    return this.loops;
  }

  async systemdBooted(): Promise<boolean> {
    return this.booted;
  }

  async realpath(p: string): Promise<string | null> {
    return this.links.get(p) ?? null;
  }
}
