import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { describeHolders, kernelHolders, processHolders } from './holders.js';
import { parseMountinfo } from '../../host/mountinfo.js';

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100 && !(await check()); i++) await new Promise((r) => setTimeout(r, 20));
}

test('holders: processes holding a folder by cwd, open file and mapped file are named; others are not', async (t) => {
  const dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'muster-holders-')));
  const sibling = `${dir}-sibling`;
  await fs.mkdir(sibling);
  await fs.writeFile(path.join(dir, 'data'), 'x'.repeat(8192));
  const byCwd = spawn('sleep', ['60'], { cwd: dir, stdio: 'ignore' });
  const byFd = spawn(process.execPath, ['-e', `require('fs').openSync(${JSON.stringify(path.join(dir, 'data'))}, 'r'); setInterval(() => {}, 1000)`], { stdio: 'ignore' });
  // A process in a folder whose name merely starts with the target's: not a holder.
  const bystander = spawn('sleep', ['60'], { cwd: sibling, stdio: 'ignore' });
  t.after(async () => {
    for (const p of [byCwd, byFd, bystander]) p.kill('SIGKILL');
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rm(sibling, { recursive: true, force: true });
  });
  await until(async () => (await processHolders(dir)).some((h) => h.pid === byFd.pid && h.uses.some((u) => u.startsWith('fd '))));
  const holders = await processHolders(dir);
  const cwd = holders.find((h) => h.pid === byCwd.pid);
  const fd = holders.find((h) => h.pid === byFd.pid);
  assert.deepEqual(cwd?.uses, ['cwd']);
  assert.equal(cwd?.command, 'sleep');
  assert.ok(fd?.uses.some((u) => new RegExp(`^fd \\d+ ${dir}/data$`).test(u)), JSON.stringify(fd));
  assert.ok(!holders.some((h) => h.pid === bystander.pid));
  assert.match(describeHolders(holders), new RegExp(`pid ${byCwd.pid} \\(sleep\\): cwd`));
});

test('holders: a deleted file still open counts; maps are read from /proc/<pid>/maps', async (t) => {
  const proc = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-fakeproc-'));
  t.after(() => fs.rm(proc, { recursive: true, force: true }));
  // A /proc look-alike: pid 4242 maps a library under the target and holds a deleted log open.
  await fs.mkdir(path.join(proc, '4242', 'fd'), { recursive: true });
  await fs.writeFile(path.join(proc, '4242', 'comm'), 'kubelet\n');
  await fs.writeFile(path.join(proc, '4242', 'maps'), '7f00-7f01 r-xp 00000000 07:00 12 /mnt/x/lib/libz.so\n7f02-7f03 r--p 00000000 fe:00 9 /usr/lib/libc.so\n');
  await fs.symlink('/mnt/x/log (deleted)', path.join(proc, '4242', 'fd', '7'));
  await fs.symlink('/', path.join(proc, '4242', 'cwd'));
  await fs.mkdir(path.join(proc, 'self'));
  const holders = await processHolders('/mnt/x', proc);
  assert.deepEqual(holders, [{ pid: 4242, command: 'kubelet', uses: ['fd 7 /mnt/x/log (deleted)', 'map /mnt/x/lib/libz.so'] }]);
});

test('holders: mounts below the target and loop devices over files in it hold it too', () => {
  const loops = [{ device: '/dev/loop3', backingFile: '/mnt/x/images/disk.img' }, { device: '/dev/loop4', backingFile: '/mnt/xy/disk.img' }];
  const table = parseMountinfo('50 22 0:40 / /mnt/x/sub rw - tmpfs tmpfs rw\n51 22 0:41 / /mnt/xy rw - tmpfs tmpfs rw\n');
  assert.deepEqual(kernelHolders('/mnt/x', table, loops), [{ uses: ['mount /mnt/x/sub'] }, { uses: ['loop /dev/loop3 /mnt/x/images/disk.img'] }]);
});
