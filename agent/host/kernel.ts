import fs from 'node:fs/promises';
import path from 'node:path';
import { parseMountinfo, type MountEntry } from './mountinfo.js';

// A loop device and the file behind it.
export interface LoopDevice {
  device: string;
  backingFile: string;
}

// The one seam between the agent and what the kernel tells it: the mount table, loop devices,
// whether systemd runs the machine, where device links point, and the kernel's settings,
// modules and swap areas. Tasks read these through their context (ctx.kernel), so a test
// gives a fake one instead of patching the agent.
export interface Kernel {
  // /proc/self/mountinfo, parsed
  mountTable(): Promise<MountEntry[]>;
  // /sys/block/loop*/loop/backing_file
  loopDevices(): Promise<LoopDevice[]>;
  // systemd is PID 1 (/run/systemd/system exists, as sd_booted(3) checks)
  systemdBooted(): Promise<boolean>;
  // the real path behind a device path or udev link (/dev/disk/by-path/...), null when absent
  realpath(p: string): Promise<string | null>;
  // a sysctl's live text (/proc/sys/net/ipv4/ip_forward for net.ipv4.ip_forward), null when this kernel has no such key
  sysctl(key: string): Promise<string | null>;
  writeSysctl(key: string, value: string): Promise<void>;
  // modules the kernel has: loaded (/proc/modules) or built in with a /sys/module entry
  modules(): Promise<Set<string>>;
  // active swap areas (/proc/swaps), unescaped
  swaps(): Promise<string[]>;
}

// A dotted sysctl name; no '/' or '..' can reach the path built from it.
const SYSCTL_KEY = /^[a-z0-9_]+(\.[a-zA-Z0-9_-]+)+$/;

export function sysctlPath(key: string): string {
  if (!SYSCTL_KEY.test(key)) throw new Error(`sysctl ${JSON.stringify(key)} is not a dotted kernel parameter`);
  return `/proc/sys/${key.replace(/\./g, '/')}`;
}

// /proc/swaps: a header line, then "<filename> <type> <size> <used> <priority>"; spaces in names are \040.
export function parseSwaps(text: string): string[] {
  return text.split('\n').slice(1).map((l) => l.trim().split(/\s+/)[0]).filter(Boolean).map((f) => f.replace(/\\040/g, ' '));
}

// /proc/modules: "<name> <size> <refs> ..." per loaded module.
export function parseModules(text: string): string[] {
  return text.split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
}

const readOrNull = (file: string) =>
  fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });

// The running kernel. Its settings, modules and swap areas are read under root, so a host
// under a temp root (tests, a chroot) carries its own; the mount table, loop devices, links
// and systemd are the machine's, as the agent's own mount namespace sees them.
export function linuxKernel(root = '/'): Kernel {
  const under = (p: string) => path.join(root, p);
  return {
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
    sysctl: async (key) => readOrNull(under(sysctlPath(key))),
    // /proc/sys files are written in place: they are not files a rename could replace.
    writeSysctl: async (key, value) => fs.writeFile(under(sysctlPath(key)), value),
    async modules() {
      const loaded = parseModules((await readOrNull(under('/proc/modules'))) ?? '');
      const builtIn = await fs.readdir(under('/sys/module')).catch(() => [] as string[]);
      return new Set([...loaded, ...builtIn]);
    },
    swaps: async () => parseSwaps((await readOrNull(under('/proc/swaps'))) ?? ''),
  };
}

// A kernel for tests: a mount table, loop devices, links, sysctls, modules and swaps as the test sets them.
export class FakeKernel implements Kernel {
  mounts: MountEntry[] = [];
  loops: LoopDevice[] = [];
  booted = false;
  links = new Map<string, string>();
  sysctls = new Map<string, string>();
  loadedModules = new Set<string>();
  swapAreas: string[] = [];

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

  async sysctl(key: string): Promise<string | null> {
    sysctlPath(key);
    return this.sysctls.get(key) ?? null;
  }

  // Like the kernel, a key it lacks cannot be created by writing it.
  async writeSysctl(key: string, value: string): Promise<void> {
    if (!this.sysctls.has(key)) throw Object.assign(new Error(`ENOENT: ${sysctlPath(key)}`), { code: 'ENOENT' });
    this.sysctls.set(key, value);
  }

  async modules(): Promise<Set<string>> {
    return this.loadedModules;
  }

  async swaps(): Promise<string[]> {
    return this.swapAreas;
  }
}
