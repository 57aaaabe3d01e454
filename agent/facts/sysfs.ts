import fs from 'node:fs/promises';
import path from 'node:path';
import type { Disk } from '../../proto/gen/muster/agent/v1/facts.js';

// What the kernel says about disks and links in /sys: systeminformation's diskLayout comes back
// empty on virtio machines (lsblk gives them no transport), and operstate is "unknown" for lo.

const read = (file: string) => fs.readFile(file, 'utf8').then((s) => s.trim(), () => '');
// Loop, RAM and compressed-RAM devices are not disks of the machine; device-mapper ones sit on disks.
const VIRTUAL = /^(loop|ram|zram|dm-|md|nbd|sr)/;

// Every whole disk backed by a device (a /sys/block entry with a device link), largest detail first.
export async function sysDisks(sys = '/sys'): Promise<Disk[]> {
  const names = await fs.readdir(path.join(sys, 'block')).catch(() => [] as string[]);
  const disks: Disk[] = [];
  for (const name of names.sort()) {
    const dir = path.join(sys, 'block', name);
    if (VIRTUAL.test(name) || !(await fs.stat(path.join(dir, 'device')).then(() => true, () => false))) continue;
    const sectors = Number(await read(path.join(dir, 'size'))) || 0;
    const driver = path.basename(await fs.readlink(path.join(dir, 'device', 'driver')).catch(() => ''));
    const model = (await read(path.join(dir, 'device', 'model'))) || (driver === 'virtio_blk' ? 'virtio disk' : driver);
    const serial = (await read(path.join(dir, 'serial'))) || (await read(path.join(dir, 'device', 'serial')));
    const rotational = await read(path.join(dir, 'queue', 'rotational'));
    const type = name.startsWith('nvme') ? 'NVMe' : rotational === '0' ? 'SSD' : 'HD';
    // /sys/block/*/size counts 512-byte sectors whatever the disk's own sector size.
    disks.push({ device: `/dev/${name}`, model, serial, sizeBytes: sectors * 512, type });
  }
  return disks;
}

const IFF_UP = 0x1;

// A link is up when it is administratively up and has a carrier: lo's operstate is "unknown"
// although it carries traffic; a down link's carrier file cannot be read at all.
export async function linkUp(name: string, sys = '/sys'): Promise<boolean> {
  const dir = path.join(sys, 'class', 'net', path.basename(name));
  const flags = Number.parseInt(await read(path.join(dir, 'flags')), 16);
  if (!Number.isFinite(flags) || (flags & IFF_UP) === 0) return false;
  return (await read(path.join(dir, 'carrier'))) === '1';
}
