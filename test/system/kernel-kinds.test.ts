// The sysctl, kernel-module and swap kinds on this machine's real kernel (root /): real
// /proc/sys, real swapon/swapoff of a real swap file, real modprobe. Needs root, util-linux, kmod.
// This kernel has no loadable modules (no /proc/modules): the kernel-module kind is tried with a
// built-in one (overlay, seen in /sys/module) and with one modprobe cannot load; loading a
// module for real is left to the unit tests' stand-in.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { ApplyMode } from '../../proto/gen/muster/agent/v1/agent.js';
import { snapshot } from '../helpers/host.js';
import { rootHost } from './helpers/root-host.js';

const tag = `${process.pid}-${Date.now().toString(36)}`;

test('sysctl on the real /proc/sys: vm.swappiness set, kept, put back after an outside change, restored at the end', async (t) => {
  const h = await rootHost();
  const original = (await fs.readFile('/proc/sys/vm/swappiness', 'utf8')).trim();
  const file = `/etc/sysctl.d/90-muster-test-${tag}.conf`;
  t.after(async () => {
    await fs.writeFile('/proc/sys/vm/swappiness', original);
    await fs.rm(file, { force: true });
    await h.cleanup();
  });
  const want = original === '7' ? '8' : '7';
  const task = { id: 's', sysctl: { settings: { 'vm.swappiness': want }, file } };
  assert.equal(await h.status(task), 'changed');
  assert.equal((await fs.readFile('/proc/sys/vm/swappiness', 'utf8')).trim(), want);
  assert.equal(await fs.readFile(file, 'utf8'), `# Managed by muster.\nvm.swappiness = ${want}\n`);
  // systemd-sysctl's own reader takes the file: sysctl -p applies it and reads back the same value.
  assert.equal(execFileSync('sysctl', ['-n', '-p', file], { encoding: 'utf8' }).trim(), want);
  assert.equal(await h.status(task), 'ok');
  await fs.writeFile('/proc/sys/vm/swappiness', original);
  assert.equal(await h.status(task, ApplyMode.APPLY_MODE_CHECK), 'would_change');
  assert.equal((await fs.readFile('/proc/sys/vm/swappiness', 'utf8')).trim(), original, 'check mode left the kernel alone');
  assert.equal(await h.status(task), 'changed');
  assert.equal(await h.status(task), 'ok');
  // Leaving the plan removes the boot file (the live value stays until the next boot).
  await h.run([]);
  await assert.rejects(fs.stat(file));
});

test('kernel-module on this kernel: a built-in module needs no modprobe; one modprobe cannot load fails clearly', async (t) => {
  const h = await rootHost();
  const file = `/etc/modules-load.d/muster-test-${tag}.conf`;
  t.after(async () => {
    await fs.rm(file, { force: true });
    await h.cleanup();
  });
  const builtin = await fs.stat('/sys/module/overlay').then(() => 'overlay', () => undefined);
  if (!builtin) return t.skip('overlay is neither loaded nor built in here');
  const task = { id: 'm', kernelModule: { names: [builtin], file } };
  assert.equal(await h.status(task), 'changed');
  assert.equal(await fs.readFile(file, 'utf8'), '# Managed by muster.\noverlay\n');
  assert.equal(await h.status(task), 'ok');
  const [r] = await h.run([{ id: 'm', kernelModule: { names: ['muster_no_such_module'], file } }]);
  assert.equal(r.errorCode, 'MODULE_NOT_FOUND', r.errorMessage);
  assert.match(r.errorMessage, /modprobe muster_no_such_module failed: modprobe: FATAL/);
});

test('swap off for real: a swap file turned on with swapon is turned off, its fstab line commented out and kept', async (t) => {
  const dir = await fs.mkdtemp(path.join('/var/tmp', 'muster-swap-'));
  const h = await rootHost([dir]);
  const swapFile = path.join(dir, 'swap.img');
  const fstab = path.join(dir, 'fstab');
  t.after(async () => {
    // Off already unless the test failed half way.
    spawnSync('swapoff', [swapFile], { stdio: 'ignore' });
    await fs.rm(dir, { recursive: true, force: true });
    await h.cleanup();
  });
  // dd, not truncate: the kernel refuses a swap file with holes.
  execFileSync('dd', ['if=/dev/zero', `of=${swapFile}`, 'bs=1M', 'count=32', 'status=none']);
  await fs.chmod(swapFile, 0o600);
  execFileSync('mkswap', [swapFile], { stdio: 'ignore' });
  const swapOn = () => execFileSync('swapon', [swapFile]);
  const active = async () => (await fs.readFile('/proc/swaps', 'utf8')).includes(swapFile);
  try {
    swapOn();
  } catch (err) {
    return t.skip(`swapon is not allowed here: ${(err as Error).message}`);
  }
  await fs.writeFile(fstab, `UUID=abcd / ext4 defaults 0 1\n${swapFile} none swap sw 0 0\n`);
  const task = { id: 'sw', swap: { fstab } };
  assert.equal(await h.status(task), 'changed');
  assert.equal(await active(), false, 'swapoff ran');
  assert.equal(await fs.readFile(fstab, 'utf8'), `UUID=abcd / ext4 defaults 0 1\n# swap off (muster): ${swapFile} none swap sw 0 0\n`);
  assert.equal(await h.status(task), 'ok');
  swapOn();
  const before = await snapshot(dir);
  assert.equal(await h.status(task, ApplyMode.APPLY_MODE_CHECK), 'would_change');
  assert.equal(await active(), true, 'check mode left the swap on');
  assert.deepEqual(await snapshot(dir), before);
  assert.equal(await h.status(task), 'changed');
  assert.equal(await active(), false);
});
