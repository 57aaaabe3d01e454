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
  // Node 24 names its main thread MainThread: the command line says node, as ps does.
  assert.equal(fd?.command, path.basename(process.execPath));
  assert.ok(fd?.uses.some((u) => new RegExp(`^fd \\d+ ${dir}/data$`).test(u)), JSON.stringify(fd));
  assert.ok(!holders.some((h) => h.pid === bystander.pid));
  assert.match(describeHolders(holders), new RegExp(`pid ${byCwd.pid} \\(sleep\\): cwd`));
  assert.match(describeHolders(holders), new RegExp(`pid ${byFd.pid} \\(node(, thread \\S+)?\\): fd \\d+ ${dir}/data`));
});

test('holders: a process is named by its command line as ps shows it, with comm when that says something else', async (t) => {
  const proc = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-fakeproc-'));
  t.after(() => fs.rm(proc, { recursive: true, force: true }));
  const fakeProcess = async (pid: number, comm: string, cmdline: string) => {
    await fs.mkdir(path.join(proc, String(pid)));
    await fs.writeFile(path.join(proc, String(pid), 'comm'), comm + '\n');
    await fs.writeFile(path.join(proc, String(pid), 'cmdline'), cmdline);
    await fs.symlink('/mnt/x', path.join(proc, String(pid), 'cwd'));
  };
  await fakeProcess(1, 'MainThread', '/usr/bin/node\0server.js\0');
  await fakeProcess(2, 'kube-controller', '/usr/local/bin/kube-controller-manager\0--v=2\0');
  await fakeProcess(3, 'nginx', 'nginx: worker process\0');
  await fakeProcess(4, 'kworker/0:1', '');
  // readdir order is the filesystem's: sorted by pid here so the message reads in order
  const holders = (await processHolders('/mnt/x', proc)).sort((a, b) => a.pid! - b.pid!);
  assert.deepEqual(holders.map((h) => [h.command, h.comm]), [['node', 'MainThread'], ['kube-controller-manager', undefined], ['nginx: worker process', undefined], ['kworker/0:1', undefined]]);
  assert.equal(describeHolders(holders), 'pid 1 (node, thread MainThread): cwd; pid 2 (kube-controller-manager): cwd; pid 3 (nginx: worker process): cwd; pid 4 (kworker/0:1): cwd');
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
