import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { collect, mergeDisks } from './facts.js';
import { linkUp, sysDisks } from './sysfs.js';

// A /sys tree as this kind of machine shows it: a virtio disk (no model file, empty serial), an
// NVMe disk, a loop device and zram; lo up with operstate "unknown", a link that is down.
async function fakeSys(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const sys = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-sys-'));
  t.after(() => fs.rm(sys, { recursive: true, force: true }));
  const put = async (p: string, content: string) => {
    await fs.mkdir(path.dirname(path.join(sys, p)), { recursive: true });
    await fs.writeFile(path.join(sys, p), content + '\n');
  };
  const disk = async (name: string, sectors: number, driver: string, files: Record<string, string>) => {
    await put(`block/${name}/size`, String(sectors));
    await put(`block/${name}/queue/rotational`, name.startsWith('vd') ? '1' : '0');
    await fs.mkdir(path.join(sys, 'drivers', driver), { recursive: true });
    await fs.mkdir(path.join(sys, 'block', name, 'device'), { recursive: true });
    await fs.symlink(path.join(sys, 'drivers', driver), path.join(sys, 'block', name, 'device', 'driver'));
    for (const [f, c] of Object.entries(files)) await put(`block/${name}/${f}`, c);
  };
  await disk('vda', 536870912, 'virtio_blk', { serial: '' });
  await disk('nvme0n1', 1000215216, 'nvme', { 'device/model': 'Samsung SSD 980 PRO 500GB  ', 'device/serial': 'S5GXNX0T123456' });
  await put('block/loop0/size', '100');
  await put('block/zram0/size', '0');
  for (const [name, flags, carrier] of [['lo', '0x9', '1'], ['eth0', '0x1003', '1'], ['ifb0', '0x82', null], ['eth1', '0x1003', '0']] as const) {
    await put(`class/net/${name}/flags`, flags);
    await put(`class/net/${name}/operstate`, name === 'lo' ? 'unknown' : 'up');
    if (carrier !== null) await put(`class/net/${name}/carrier`, carrier);
  }
  return sys;
}

test('facts: every disk backed by a device, with size, model and serial where the kernel has them', async (t) => {
  const sys = await fakeSys(t);
  assert.deepEqual(await sysDisks(sys), [
    { device: '/dev/nvme0n1', model: 'Samsung SSD 980 PRO 500GB', serial: 'S5GXNX0T123456', sizeBytes: 1000215216 * 512, type: 'NVMe' },
    { device: '/dev/vda', model: 'virtio disk', serial: '', sizeBytes: 274877906944, type: 'HD' },
  ]);
});

test('facts: systeminformation\'s model and serial win where it has them', () => {
  const sys = [{ device: '/dev/sda', model: '', serial: '', sizeBytes: 10, type: 'HD' }];
  assert.deepEqual(mergeDisks([{ device: '/dev/sda', model: 'ST4000', serial: 'Z1Z', sizeBytes: 10, type: 'HD' }], sys), [{ device: '/dev/sda', model: 'ST4000', serial: 'Z1Z', sizeBytes: 10, type: 'HD' }]);
  assert.deepEqual(mergeDisks([], sys), sys);
});

test('facts: a link is up when it is up and has a carrier, lo included', async (t) => {
  const sys = await fakeSys(t);
  assert.equal(await linkUp('lo', sys), true, 'operstate unknown, flags UP, carrier 1');
  assert.equal(await linkUp('eth0', sys), true);
  assert.equal(await linkUp('ifb0', sys), false, 'administratively down');
  assert.equal(await linkUp('eth1', sys), false, 'no carrier');
  assert.equal(await linkUp('nosuch', sys), false);
});

test('facts: on this machine lo is up and every disk lsblk shows as a disk is listed with its size', async () => {
  const facts = await collect();
  assert.equal(facts.interfaces.find((i) => i.name === 'lo')?.up, true);
  const { execFileSync } = await import('node:child_process');
  const lsblk = JSON.parse(execFileSync('lsblk', ['-J', '-b', '-d', '-o', 'NAME,SIZE,TYPE'], { encoding: 'utf8' })) as { blockdevices: { name: string; size: number; type: string }[] };
  for (const d of lsblk.blockdevices.filter((b) => b.type === 'disk' && b.size > 0 && !/^(loop|zram|ram)/.test(b.name))) {
    assert.equal(facts.disks.find((x) => x.device === `/dev/${d.name}`)?.sizeBytes, d.size, d.name);
  }
});
