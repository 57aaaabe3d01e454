import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blkidCmd, cephFuse, daemonReloadCmd, iscsiadm, losetupCmd, losetupDetachCmd, mkfsCmd, mountCmd, nfsLs, rbd, umountCmd } from './commands.js';

// What an operator types, one string per command line (no argument holds a space here).
const c = { user: 'k8s', keyring: '/etc/ceph/muster_mnt_rbd.keyring', conf: '/etc/ceph/muster_mnt_rbd.conf' };
const IQN = 'iqn.2026-11.io.example:storage.lun1';
const P = '10.0.0.5:3260';
const OPERATOR: [string[], string][] = [
  [iscsiadm.discover(P), `iscsiadm -m discovery -t sendtargets -p ${P}`],
  [iscsiadm.update(IQN, P, 'node.session.auth.authmethod', 'CHAP'), `iscsiadm -m node -T ${IQN} -p ${P} -o update -n node.session.auth.authmethod -v CHAP`],
  [iscsiadm.update(IQN, P, 'node.startup', 'automatic'), `iscsiadm -m node -T ${IQN} -p ${P} -o update -n node.startup -v automatic`],
  [iscsiadm.login(IQN, P), `iscsiadm -m node -T ${IQN} -p ${P} --login`],
  [iscsiadm.logout(IQN, P), `iscsiadm -m node -T ${IQN} -p ${P} --logout`],
  [iscsiadm.deleteNode(IQN, P), `iscsiadm -m node -T ${IQN} -p ${P} -o delete`],
  [iscsiadm.sessions(), 'iscsiadm -m session'],
  [iscsiadm.show(IQN, P), `iscsiadm -m node -T ${IQN} -p ${P} -S`],
  [nfsLs('10.0.0.6', '/srv/share', '4.1'), 'nfs-ls nfs://10.0.0.6/srv/share?version=4'],
  [nfsLs('fd00::6', '/srv/share', '3'), 'nfs-ls nfs://[fd00::6]/srv/share'],
  [mountCmd('nfs4', ['vers=4.1', 'hard'], '10.0.0.6:/srv/share', '/mnt/share'), 'mount -t nfs4 -o vers=4.1,hard 10.0.0.6:/srv/share /mnt/share'],
  [mountCmd('glusterfs', ['backup-volfile-servers=gfs2:gfs3'], 'gfs1:/gv0', '/mnt/gv0'), 'mount -t glusterfs -o backup-volfile-servers=gfs2:gfs3 gfs1:/gv0 /mnt/gv0'],
  [mountCmd('ceph', ['name=k8s', 'secretfile=/etc/ceph/x.secret'], '10.0.0.1,10.0.0.2:/volumes/a', '/mnt/cephfs'), 'mount -t ceph -o name=k8s,secretfile=/etc/ceph/x.secret 10.0.0.1,10.0.0.2:/volumes/a /mnt/cephfs'],
  [mountCmd('ext4', [], '/dev/md0', '/srv/storage/data'), 'mount -t ext4 /dev/md0 /srv/storage/data'],
  [umountCmd('/mnt/share'), 'umount /mnt/share'],
  [rbd.info('rbd', 'data', c), `rbd info rbd/data --id k8s --keyring ${c.keyring} -c ${c.conf}`],
  [rbd.map('rbd', 'data', c), `rbd map rbd/data --id k8s --keyring ${c.keyring} -c ${c.conf}`],
  [rbd.unmap('/dev/rbd0'), 'rbd unmap /dev/rbd0'],
  [rbd.showmapped(), 'rbd showmapped --format json'],
  [rbd.nbdMap('rbd', 'data', c), `rbd-nbd map rbd/data --id k8s --keyring ${c.keyring} -c ${c.conf}`],
  [rbd.nbdUnmap('/dev/nbd0'), 'rbd-nbd unmap /dev/nbd0'],
  [rbd.nbdList(), 'rbd-nbd list-mapped --format json'],
  [rbd.fuse('rbd', 'data', c, '/mnt/.rbd-fuse-rbd'), `rbd-fuse -p rbd -r data --id k8s --keyring ${c.keyring} -c ${c.conf} /mnt/.rbd-fuse-rbd`],
  [losetupCmd('/mnt/.rbd-fuse-rbd/data'), 'losetup --find --show /mnt/.rbd-fuse-rbd/data'],
  [losetupDetachCmd('/dev/loop3'), 'losetup -d /dev/loop3'],
  [cephFuse(c, '/volumes/a', ['noatime'], '/mnt/cephfs'), `ceph-fuse -n client.k8s -k ${c.keyring} -c ${c.conf} -r /volumes/a -o noatime /mnt/cephfs`],
  [blkidCmd('/dev/md0'), 'blkid -p -o export /dev/md0'],
  [mkfsCmd('ext4', ['-L', 'data'], '/dev/md0'), 'mkfs -t ext4 -L data /dev/md0'],
  [daemonReloadCmd(), 'systemctl daemon-reload'],
];

test('commands: each builder gives the line an operator would type', () => {
  for (const [argv, line] of OPERATOR) assert.equal(argv.join(' '), line);
});
