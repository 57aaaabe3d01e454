import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { tempHost } from '../../test/helpers/host.js';
import { appendTo, timeline } from '../../test/helpers/timeline.js';

// The kernel's files, under the temp root: the real /proc/sys is tried in test/system.
const kernel = (values: Record<string, string>) => async (real: (p: string) => string) => {
  for (const [name, value] of Object.entries(values)) {
    const file = real(`/proc/sys/${name.replace(/\./g, '/')}`);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, value + '\n');
  }
};
const settings = { 'net.ipv4.ip_forward': '1', 'net.ipv4.ip_local_port_range': '32768 60999' };

timeline({
  name: 'sysctl (live value)',
  task: { id: 's', sysctl: { settings } },
  setup: kernel({ 'net.ipv4.ip_forward': '0', 'net.ipv4.ip_local_port_range': '1024\t4999' }),
  drift: kernel({ 'net.ipv4.ip_forward': '0' }),
});

timeline({
  name: 'sysctl (boot file)',
  task: { id: 's', sysctl: { settings, file: '/etc/sysctl.d/99-k8s.conf' } },
  setup: kernel({ 'net.ipv4.ip_forward': '0', 'net.ipv4.ip_local_port_range': '32768\t60999' }),
  drift: appendTo('/etc/sysctl.d/99-k8s.conf', 'net.ipv4.ip_forward = 0\n'),
});

test('sysctl: the boot file and the live value', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  await kernel({ 'net.ipv4.ip_forward': '0', 'net.ipv4.ip_local_port_range': '32768\t60999' })(h.real);
  const r = (await h.run([{ id: 's', sysctl: { settings } }])).results[0];
  assert.equal(r.status, TaskStatus.TASK_STATUS_CHANGED);
  assert.equal(await fs.readFile(h.real('/etc/sysctl.d/90-muster.conf'), 'utf8'), '# Managed by muster.\nnet.ipv4.ip_forward = 1\nnet.ipv4.ip_local_port_range = 32768 60999\n');
  assert.equal(await fs.readFile(h.real('/proc/sys/net/ipv4/ip_forward'), 'utf8'), '1\n');
  assert.deepEqual(r.diffs.map((d) => d.header), ['/etc/sysctl.d/90-muster.conf', 'net.ipv4.ip_forward (live, /proc/sys/net/ipv4/ip_forward)'], 'tabs and spaces are the same value');
});

test('sysctl: a key this kernel lacks fails clearly and writes nothing', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  await kernel({ 'net.ipv4.ip_forward': '0' })(h.real);
  const r = (await h.run([{ id: 's', sysctl: { settings: { 'net.ipv4.ip_forward': '1', 'net.bridge.bridge-nf-call-iptables': '1' } } }])).results[0];
  assert.equal(r.errorCode, 'SYSCTL_NOT_FOUND');
  assert.match(r.errorMessage, /\/proc\/sys\/net\/bridge\/bridge-nf-call-iptables/);
  await assert.rejects(fs.stat(h.real('/etc/sysctl.d/90-muster.conf')), 'no boot file');
  assert.equal(await fs.readFile(h.real('/proc/sys/net/ipv4/ip_forward'), 'utf8'), '0\n', 'no live value');
});

test('sysctl: bad input is refused before anything is touched', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  for (const [spec, pattern] of [
    [{ settings: {} }, /settings are empty/],
    [{ settings: { '../../etc/passwd': '1' } }, /not a dotted kernel parameter/],
    [{ settings: { 'kernel/x': '1' } }, /not a dotted kernel parameter/],
    [{ settings: { 'vm.swappiness': '1\nkernel.panic = 1' } }, /must be one line/],
    [{ settings: { 'vm.swappiness': '   ' } }, /must be one line and not empty/],
    [{ settings: { 'vm.swappiness': '1' }, file: '/etc/sysctl.conf' }, /must be \/etc\/sysctl.d/],
    [{ settings: { 'vm.swappiness': '1' }, file: '/etc/sysctl.d/x.txt' }, /must be \/etc\/sysctl.d/],
  ] as const) {
    const r = (await h.run([{ id: 's', sysctl: spec }])).results[0];
    assert.equal(r.errorCode, 'INVALID_SPEC', JSON.stringify(spec));
    assert.match(r.errorMessage, pattern);
  }
  await assert.rejects(fs.stat(h.real('/etc/sysctl.d')));
});
