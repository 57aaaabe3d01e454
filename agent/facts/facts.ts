import type { Disk, Facts } from '../../proto/gen/muster/agent/v1/facts.js';
import { linkUp, sysDisks } from './sysfs.js';

// Facts are read on first request and cached: systeminformation runs several programs.
export class FactsCache {
  private cached?: Promise<Facts>;

  get(refresh = false): Promise<Facts> {
    if (refresh || !this.cached) {
      const next = collect();
      // A failed read is not cached: the next request tries again.
      next.catch(() => {
        if (this.cached === next) this.cached = undefined;
      });
      this.cached = next;
    }
    return this.cached;
  }
}

export async function collect(sys = '/sys'): Promise<Facts> {
  // Loaded on the first request: it is a large module and most agents are asked rarely.
  const { default: si } = await import('systeminformation');
  const [os, cpu, mem, layout, nics, disks] = await Promise.all([si.osInfo(), si.cpu(), si.mem(), si.diskLayout(), si.networkInterfaces(), sysDisks(sys)]);
  const nicList = Array.isArray(nics) ? nics : [nics];
  const known = layout.map((d) => ({ device: d.device, model: d.name, serial: d.serialNum, sizeBytes: d.size, type: d.type }));
  return {
    hostname: os.hostname,
    os: os.distro,
    osRelease: os.release,
    kernel: os.kernel,
    arch: os.arch,
    cpu: { model: `${cpu.manufacturer} ${cpu.brand}`.trim(), cores: cpu.cores, physicalCores: cpu.physicalCores },
    memory: { totalBytes: mem.total, availableBytes: mem.available },
    disks: mergeDisks(known, disks),
    interfaces: await Promise.all(nicList.map(async (n) => ({
      name: n.iface,
      mac: n.mac,
      addresses: [n.ip4, n.ip6].filter(Boolean),
      up: await linkUp(n.iface, sys),
    }))),
    collectedAtMs: Date.now(),
  };
}

// systeminformation knows model and serial where lsblk and smartctl do; /sys knows every disk.
export function mergeDisks(known: Disk[], sys: Disk[]): Disk[] {
  const byDevice = new Map(known.map((d) => [d.device, d]));
  const merged = sys.map((d) => {
    const k = byDevice.get(d.device);
    byDevice.delete(d.device);
    return k ? { ...d, model: k.model || d.model, serial: k.serial || d.serial, sizeBytes: k.sizeBytes || d.sizeBytes, type: k.type || d.type } : d;
  });
  return [...merged, ...byDevice.values()];
}
