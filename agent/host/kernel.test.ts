import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ApplyMode, TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { tempHost } from '../../test/helpers/host.js';
import { FakeKernel, linuxKernel, parseModules, parseSwaps, sysctlPath } from './kernel.js';

async function tempRoot(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-kernel-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  return root;
}

test('linux kernel under a root: sysctls, modules and swaps are read (and sysctls written) below that root', async (t) => {
  const root = await tempRoot(t);
  await fs.mkdir(path.join(root, 'proc/sys/net/ipv4'), { recursive: true });
  await fs.mkdir(path.join(root, 'sys/module/overlay'), { recursive: true });
  await fs.writeFile(path.join(root, 'proc/sys/net/ipv4/ip_forward'), '0\n');
  await fs.writeFile(path.join(root, 'proc/modules'), 'br_netfilter 32768 0 - Live 0x0\n');
  await fs.writeFile(path.join(root, 'proc/swaps'), 'Filename\tType\tSize\tUsed\tPriority\n/swap\\040file file 10 0 -2\n');
  const k = linuxKernel(root);
  assert.equal(await k.sysctl('net.ipv4.ip_forward'), '0\n');
  assert.equal(await k.sysctl('net.ipv4.no_such_key'), null);
  await k.writeSysctl('net.ipv4.ip_forward', '1\n');
  assert.equal(await fs.readFile(path.join(root, 'proc/sys/net/ipv4/ip_forward'), 'utf8'), '1\n');
  assert.deepEqual([...(await k.modules())].sort(), ['br_netfilter', 'overlay']);
  assert.deepEqual(await k.swaps(), ['/swap file']);
});

test('linux kernel: a root without /proc or /sys has no sysctls, modules or swaps (not an error)', async (t) => {
  const k = linuxKernel(await tempRoot(t));
  assert.equal(await k.sysctl('vm.swappiness'), null);
  assert.deepEqual([...(await k.modules())], []);
  assert.deepEqual(await k.swaps(), []);
});

test('kernel: a sysctl name that could leave /proc/sys is refused by the real kernel and the fake alike', async (t) => {
  const root = await tempRoot(t);
  for (const key of ['../../etc/passwd', 'net/ipv4/ip_forward', 'net..x', 'kernel', '.x.y']) {
    await assert.rejects(linuxKernel(root).sysctl(key), /not a dotted kernel parameter/, key);
    await assert.rejects(linuxKernel(root).writeSysctl(key, '1'), /not a dotted kernel parameter/, key);
    await assert.rejects(new FakeKernel().sysctl(key), /not a dotted kernel parameter/, key);
  }
  assert.deepEqual(await fs.readdir(root), [], 'nothing written');
  assert.equal(sysctlPath('net.ipv4.conf.eth0-1.rp_filter'), '/proc/sys/net/ipv4/conf/eth0-1/rp_filter');
});

test('kernel parsers: /proc/modules and /proc/swaps', () => {
  assert.deepEqual(parseModules('ext4 1 0 - Live 0x0\nnf_conntrack 1 0 - Live 0x0\n'), ['ext4', 'nf_conntrack']);
  assert.deepEqual(parseModules(''), []);
  assert.deepEqual(parseSwaps('Filename Type Size Used Priority\n'), []);
});

test('kernel seam: the system kinds see only ctx.kernel, so a fake kernel is all a test needs', async (t) => {
  const kernel = new FakeKernel();
  kernel.sysctls.set('vm.swappiness', '60\n');
  kernel.loadedModules.add('br_netfilter');
  kernel.swapAreas = ['/dev/vda2'];
  const h = await tempHost({ kernel });
  t.after(() => h.cleanup());
  const tasks = [{ id: 's', sysctl: { settings: { 'vm.swappiness': '10' } } }, { id: 'm', kernelModule: { names: ['br-netfilter'] } }];
  const { results } = await h.run(tasks);
  assert.deepEqual(results.map((r) => [r.id, r.status, r.errorMessage]), [['s', TaskStatus.TASK_STATUS_CHANGED, ''], ['m', TaskStatus.TASK_STATUS_CHANGED, '']]);
  assert.equal(kernel.sysctls.get('vm.swappiness'), '10\n', 'the live value went to the (fake) kernel');
  assert.deepEqual(results[1].diffs.filter((d) => d.header.includes('(live)')), [], 'a module the kernel has needs no modprobe');
  await assert.rejects(fs.stat(h.real('/proc')), 'no /proc was made under the host root');
  const swap = (await h.run([...tasks, { id: 'w', swap: {} }], ApplyMode.APPLY_MODE_CHECK)).results.find((r) => r.id === 'w');
  assert.deepEqual(swap?.diffs.map((d) => d.header), ['swap /dev/vda2 (live, /proc/swaps)']);
});
