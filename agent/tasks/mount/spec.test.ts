import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CephRbdMapper, MountSpec, type DeepPartial } from '../../../proto/gen/muster/agent/v1/mount.js';
import { parseRecord, parseSessions } from './iscsi.js';
import { findMapping } from './ceph.js';
import { resolveMount, validateMount } from './spec.js';

const KEY = 'AQBzRmVkAAAAABAAmuster+test+key+only+0000==';
const problems = (p: DeepPartial<MountSpec>) => validateMount(MountSpec.fromPartial(p));

test('spec: defaults: mounted, systemd, ext4 for devices, 30 s device timeout, nfs 4.1', () => {
  const m = resolveMount(MountSpec.fromPartial({ target: '/mnt/x/', block: { device: '/dev/sdb' } }));
  assert.deepEqual([m.target, m.state, m.persistence, m.fsType, m.deviceTimeoutMs], ['/mnt/x', 'mounted', 'systemd', 'ext4', 30_000]);
  const n = resolveMount(MountSpec.fromPartial({ target: '/mnt/n', nfs: { server: 'h', export: '/e' } }));
  assert.deepEqual([n.fsType, n.driver.liveFsType(n), n.driver.mountOptions(n)], ['', 'nfs4', ['vers=4.1']]);
});

test('spec: every problem is named before anything runs', () => {
  assert.deepEqual(problems({ target: '/mnt/x' }), ['exactly one source is needed (iscsi, nfs, cephRbd, cephfs, glusterfs, block); found none']);
  assert.match(problems({ target: '/mnt/x', block: { device: '/dev/a' }, nfs: { server: 'h', export: '/e' } })[0], /found nfs, block/);
  assert.match(problems({ target: 'mnt/x', block: { device: '/dev/a' } })[0], /not a normalized absolute path/);
  assert.match(problems({ target: '/mnt/a\nb', block: { device: '/dev/a' } }).join(), /control character/);
  assert.match(problems({ target: '/mnt/x', block: { device: 'sdb' } }).join(), /not a normalized path under \/dev/);
  assert.match(problems({ target: '/mnt/x', block: { device: '/dev/a' }, options: ['noauto'] }).join(), /use state unmounted/);
  assert.match(problems({ target: '/mnt/x', block: { device: '/dev/a' }, options: ['a,b'] }).join(), /one option per entry/);
  assert.match(problems({ target: '/mnt/x', nfs: { server: 'h', export: '/e' }, fsType: 'ext4' }).join(), /fsType is for block/);
  assert.match(problems({ target: '/mnt/x', nfs: { server: 'h', export: '/e' }, mkfs: true }).join(), /mkfs is for block/);
  assert.match(problems({ target: '/mnt/x', nfs: { server: 'h', export: '/e', version: '5' } }).join(), /not one of 3, 4.0, 4.1, 4.2/);
  assert.match(problems({ target: '/mnt/x', nfs: { server: 'h', export: '/e' }, options: ['vers=3'] }).join(), /give the version in nfs.version/);
  assert.match(problems({ target: '/mnt/x', iscsi: { portal: 'san.example:3260', iqn: 'iqn.2026-11.io.example:a', lun: 0, chapUsername: '', chapPassword: '', initiatorName: '' } }).join(), /is not ip\[:port\]/);
  assert.match(problems({ target: '/mnt/x', iscsi: { portal: '10.0.0.5', iqn: 'bogus', lun: 0, chapUsername: 'u', chapPassword: '', initiatorName: '' } }).join(), /not an iSCSI name.*chapUsername and chapPassword go together/);
  assert.match(problems({ target: '/mnt/x', cephRbd: { monitors: [], pool: 'rbd', image: 'a b', user: '', key: 'short', mapper: 0 } }).join(), /at least one monitor.*not a cephx key.*cephRbd.image "a b" is not a name/);
  assert.match(problems({ target: '/mnt/x', cephRbd: { monitors: ['m1'], pool: 'rbd', image: 'a', user: '', key: KEY, mapper: CephRbdMapper.CEPH_RBD_MAPPER_FUSE } }).join(), /persistence systemd: only the krbd mapper maps at boot/);
  assert.deepEqual(problems({ target: '/mnt/x', cephRbd: { monitors: ['m1'], pool: 'rbd', image: 'a', user: '', key: KEY, mapper: CephRbdMapper.CEPH_RBD_MAPPER_FUSE }, persistence: 3 }), []);
  assert.match(problems({ target: '/mnt/x', glusterfs: { servers: [], volume: 'v/x' } }).join(), /at least one server.*not a volume name/);
});

test('spec: iscsiadm session and node record output parse', () => {
  assert.deepEqual(parseSessions('tcp: [1] 10.0.0.5:3260,1 iqn.2026-11.io.example:lun1 (non-flash)\ntcp: [2] [fd00::5]:3260,1 iqn.x:y (non-flash)\n'), [
    { portal: '10.0.0.5:3260', iqn: 'iqn.2026-11.io.example:lun1' },
    { portal: '[fd00::5]:3260', iqn: 'iqn.x:y' },
  ]);
  assert.deepEqual(parseRecord('node.startup = automatic\nnode.session.auth.username = <empty>\niface.initiatorname = iqn.a:b\n'), {
    'node.startup': 'automatic',
    'node.session.auth.username': '',
    'iface.initiatorname': 'iqn.a:b',
  });
});

test('spec: rbd showmapped and rbd-nbd list-mapped both name the device', () => {
  assert.equal(findMapping('[{"id":"0","pool":"rbd","namespace":"","name":"data","snap":"-","device":"/dev/rbd0"}]', 'rbd', 'data'), '/dev/rbd0');
  assert.equal(findMapping('[{"id":7,"pool":"rbd","namespace":"","image":"data","snap":"-","device":"/dev/nbd0"}]', 'rbd', 'data'), '/dev/nbd0');
  assert.equal(findMapping('[{"pool":"rbd","name":"data","snap":"s1","device":"/dev/rbd1"}]', 'rbd', 'data'), null, 'a snapshot mapping is not the image');
  assert.equal(findMapping('', 'rbd', 'data'), null);
});
