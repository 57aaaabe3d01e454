import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMountinfo } from '../../host/mountinfo.js';
import { isUserspaceOnly, optionDifferences } from './options.js';

const live = (line: string) => parseMountinfo(line)[0];
const ext4 = live('42 22 7:0 / /mnt/x rw,noatime,nodiratime - ext4 /dev/loop0 rw,sync,discard,errors=remount-ro,data=ordered');
const fuse = live('44 22 0:39 / /mnt/gv0 rw,relatime - fuse.glusterfs s1:/gv0 rw,user_id=0,group_id=0,default_permissions,allow_other');

test('options: the options the spec names, as the live mount shows them, are equal', () => {
  assert.deepEqual(optionDifferences(['noatime', 'nodiratime', 'sync', 'discard', 'errors=remount-ro', 'data=ordered', 'rw'], ext4, true), []);
});

test('options: kernel-added options are not compared; hidden defaults and userspace options are skipped', () => {
  assert.deepEqual(optionDifferences([], ext4, true), [], 'errors=, data=, discard added by the kernel do not count');
  assert.deepEqual(optionDifferences(['acl', 'user_xattr', 'commit=5', '_netdev', 'nofail', 'x-systemd.automount', 'defaults'], ext4, true), []);
  assert.ok(isUserspaceOnly('backup-volfile-servers=a:b') && isUserspaceOnly('secretfile=/etc/ceph/x') && !isUserspaceOnly('vers=4.1'));
});

test('options: a flag the live mount contradicts or lacks is a difference, with what it says instead', () => {
  assert.deepEqual(optionDifferences(['relatime'], ext4, true), [{ option: 'relatime', live: 'noatime' }]);
  assert.deepEqual(optionDifferences(['ro'], ext4, true), [{ option: 'ro', live: 'rw' }]);
  assert.deepEqual(optionDifferences(['nosuid'], ext4, true), [{ option: 'nosuid', live: '(not set)' }]);
  assert.deepEqual(optionDifferences(['atime'], ext4, true), [{ option: 'atime', live: 'noatime' }]);
  assert.deepEqual(optionDifferences(['strictatime'], ext4, true), [{ option: 'strictatime', live: 'noatime' }]);
  assert.deepEqual(optionDifferences(['dev', 'exec', 'suid'], ext4, true), [], 'negations of unset flags hold');
  assert.deepEqual(optionDifferences(['dioread_nolock'], ext4, true), [{ option: 'dioread_nolock', live: '(not set)' }]);
});

test('options: key=value compares the value', () => {
  assert.deepEqual(optionDifferences(['errors=panic'], ext4, true), [{ option: 'errors=panic', live: 'errors=remount-ro' }]);
  assert.deepEqual(optionDifferences(['stripe=8'], ext4, true), [{ option: 'stripe=8', live: '(not set)' }]);
  const nfs = live('45 22 0:50 / /mnt/share rw,relatime - nfs4 h:/e rw,vers=4.2,hard,proto=tcp');
  assert.deepEqual(optionDifferences(['vers=4.1', 'hard'], nfs, true), [{ option: 'vers=4.1', live: 'vers=4.2' }]);
});

test('options: FUSE clients consume their options: only per-mount flags are compared', () => {
  assert.deepEqual(optionDifferences(['log-level=WARNING', 'acl', 'direct-io-mode=disable'], fuse, false), []);
  assert.deepEqual(optionDifferences(['noatime'], fuse, false), [{ option: 'noatime', live: 'relatime' }]);
});
