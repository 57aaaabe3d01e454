import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MountSpec, MountState, type DeepPartial } from '../../../proto/gen/muster/agent/v1/mount.js';
import type { BootEntry } from './driver.js';
import { fstabKey, fstabLine, persistenceItems, renderUnit, unitPath } from './persistence.js';
import { resolveMount } from './spec.js';

const m = (p: DeepPartial<MountSpec>) => resolveMount(MountSpec.fromPartial(p));
const boot = (x: ReturnType<typeof m>) => x.driver.bootEntry(x) as BootEntry;

test('persistence: a network mount unit waits for the network and belongs to remote-fs.target', () => {
  const x = m({ target: '/mnt/share', nfs: { server: '10.0.0.6', export: '/srv/share' }, options: ['hard'] });
  assert.equal(renderUnit(x, boot(x)), [
    '# Managed by muster (mount task); edits here are put back on the next apply.',
    '[Unit]',
    'Description=nfs 10.0.0.6:/srv/share on /mnt/share',
    '',
    '[Mount]',
    'What=10.0.0.6:/srv/share',
    'Where=/mnt/share',
    'Type=nfs4',
    'Options=vers=4.1,hard,_netdev',
    '',
    '[Install]',
    'WantedBy=remote-fs.target',
    '',
  ].join('\n'));
  assert.equal(unitPath('/mnt/share'), '/etc/systemd/system/mnt-share.mount');
});

test('persistence: % is escaped for systemd; fstab escapes spaces; local block gets fsck pass 2', () => {
  const x = m({ target: '/mnt/100% sure', block: { device: '/dev/disk/by-label/a%b' } });
  const unit = renderUnit(x, boot(x));
  assert.match(unit, /^What=\/dev\/disk\/by-label\/a%%b$/m);
  assert.match(unit, /^Where=\/mnt\/100%% sure$/m);
  assert.match(unit, /^WantedBy=local-fs.target$/m);
  const line = fstabLine(x, boot(x));
  assert.equal(line, '/dev/disk/by-label/a%b\t/mnt/100%\\040sure\text4\tdefaults\t0\t2');
  assert.equal(fstabKey(line), '/mnt/100% sure');
});

test('persistence: unmounted adds noauto to fstab and drops the enable link; absent wants everything gone', () => {
  const u = m({ target: '/mnt/gv0', glusterfs: { servers: ['g1', 'g2'], volume: 'gv0' }, state: MountState.MOUNT_STATE_UNMOUNTED });
  assert.equal(fstabLine(u, boot(u)), 'g1:/gv0\t/mnt/gv0\tglusterfs\tbackup-volfile-servers=g2,_netdev,noauto\t0\t0');
  const usable = new Set(['/etc/fstab', unitPath('/mnt/gv0')]);
  const wants = persistenceItems(u, usable).map((i) => [i.kind, i.path, i.want !== null]);
  assert.deepEqual(wants, [
    ['file', '/etc/systemd/system/mnt-gv0.mount', true],
    ['link', '/etc/systemd/system/remote-fs.target.wants/mnt-gv0.mount', false],
    ['link', '/etc/systemd/system/local-fs.target.wants/mnt-gv0.mount', false],
    ['line', '/etc/fstab', false],
  ]);
  const a = m({ target: '/mnt/gv0', glusterfs: { servers: ['g1'], volume: 'gv0' }, state: MountState.MOUNT_STATE_ABSENT });
  assert.ok(persistenceItems(a, usable).every((i) => i.want === null));
  assert.deepEqual(persistenceItems(a, new Set()).map((i) => i.path), [], 'paths the host cannot resolve are left alone');
});
