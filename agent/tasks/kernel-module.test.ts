import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import type { DeepPartial, KernelModuleSpec } from '../../proto/gen/muster/agent/v1/system.js';
import { TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { tempHost } from '../../test/helpers/host.js';
import { useStandins } from '../../test/helpers/standins.js';
import { appendTo, timeline } from '../../test/helpers/timeline.js';

// modprobe is a stand-in here (test/helpers/standins/modprobe): this kernel has no loadable
// modules, and the host lives under a temp root. The built-in modules are tried in test/system.
const standins = useStandins();
const kernel = (modules: string) => async (real: (p: string) => string) => {
  standins.rootFor(real);
  await fs.mkdir(real('/proc'), { recursive: true });
  await fs.writeFile(real('/proc/modules'), modules);
};

timeline({
  name: 'kernel-module (loaded)',
  task: { id: 'm', kernelModule: { names: ['br_netfilter', 'nf-conntrack'] } },
  setup: kernel('ext4 1 0 - Live 0x0\n'),
  drift: kernel('ext4 1 0 - Live 0x0\nnf_conntrack 1 0 - Live 0x0\n'),
});

timeline({
  name: 'kernel-module (boot file)',
  task: { id: 'm', kernelModule: { names: ['overlay'], file: '/etc/modules-load.d/k8s.conf' } },
  setup: kernel(''),
  drift: appendTo('/etc/modules-load.d/k8s.conf', 'ip_vs\n'),
});

test('kernel-module: a built-in module (in /sys/module) needs no modprobe', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  await kernel('')(h.real);
  await fs.mkdir(h.real('/sys/module/overlay'), { recursive: true });
  const r = (await h.run([{ id: 'm', kernelModule: { names: ['overlay'] } }])).results[0];
  assert.equal(r.status, TaskStatus.TASK_STATUS_CHANGED);
  assert.deepEqual(r.diffs.map((d) => d.header), ['/etc/modules-load.d/muster.conf']);
  assert.equal(await fs.readFile(h.real('/proc/modules'), 'utf8'), '', 'modprobe did not run');
});

test('kernel-module: a module modprobe cannot load fails clearly and writes no boot file', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  await kernel('')(h.real);
  const r = (await h.run([{ id: 'm', kernelModule: { names: ['overlay', 'nosuch_mod'] } }])).results[0];
  assert.equal(r.errorCode, 'MODULE_NOT_FOUND');
  assert.match(r.errorMessage, /modprobe nosuch_mod failed: modprobe: FATAL: Module nosuch_mod not found/);
  await assert.rejects(fs.stat(h.real('/etc/modules-load.d/muster.conf')));
});

test('kernel-module: bad input is refused', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  for (const [spec, pattern] of [
    [{ names: [] }, /names are empty/],
    [{ names: ['-r'] }, /not a module name/],
    [{ names: ['a b'] }, /not a module name/],
    [{ names: ['br-netfilter', 'br_netfilter'] }, /named twice/],
    [{ names: ['overlay'], file: '/etc/modules' }, /must be \/etc\/modules-load.d/],
  ] as [DeepPartial<KernelModuleSpec>, RegExp][]) {
    const r = (await h.run([{ id: 'm', kernelModule: spec }])).results[0];
    assert.equal(r.errorCode, 'INVALID_SPEC', JSON.stringify(spec));
    assert.match(r.errorMessage, pattern);
  }
});
