import type { Facts } from '../../proto/gen/muster/agent/v1/facts.js';

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

export async function collect(): Promise<Facts> {
  // Loaded on the first request: it is a large module and most agents are asked rarely.
  const { default: si } = await import('systeminformation');
  const [os, cpu, mem, disks, nics] = await Promise.all([si.osInfo(), si.cpu(), si.mem(), si.diskLayout(), si.networkInterfaces()]);
  const nicList = Array.isArray(nics) ? nics : [nics];
  return {
    hostname: os.hostname,
    os: os.distro,
    osRelease: os.release,
    kernel: os.kernel,
    arch: os.arch,
    cpu: { model: `${cpu.manufacturer} ${cpu.brand}`.trim(), cores: cpu.cores, physicalCores: cpu.physicalCores },
    memory: { totalBytes: mem.total, availableBytes: mem.available },
    disks: disks.map((d) => ({ device: d.device, model: d.name, serial: d.serialNum, sizeBytes: d.size, type: d.type })),
    interfaces: nicList.map((n) => ({
      name: n.iface,
      mac: n.mac,
      addresses: [n.ip4, n.ip6].filter(Boolean),
      up: n.operstate === 'up',
    })),
    collectedAtMs: Date.now(),
  };
}
