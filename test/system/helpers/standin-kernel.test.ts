import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMountinfo } from '../../../agent/host/mountinfo.js';
import { applyOverlay } from './standin-kernel.js';

const SAMPLE = [
  '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,errors=remount-ro',
  '42 22 7:0 / /srv/storage/data rw,noatime shared:30 master:2 - ext4 /dev/loop0 rw,discard,data=ordered',
  '43 22 254:0 /tmp/exports/a\\040b /mnt/with\\040space rw,nosuid - ext4 /dev/vda rw',
  '44 22 0:39 / /mnt/gv0 rw,relatime - fuse.glusterfs 127.0.0.1:/gv0 rw,user_id=0,group_id=0,default_permissions,allow_other,max_read=131072',
  '45 22 0:50 / /mnt/share rw,relatime - nfs4 10.0.0.6:/srv/share rw,vers=4.1,rsize=1048576,hard,proto=tcp,sec=sys',
  '46 42 0:51 / /srv/storage/data/sub rw - tmpfs tmpfs rw',
  '47 22 7:1 / /srv/storage/data ro - xfs /dev/loop1 ro,attr2',
  '',
].join('\n');

test('mountinfo: a stand-in overlay line replaces only the mount with its id, root and mount point', () => {
  const e = parseMountinfo(SAMPLE);
  const overlay = '43 /tmp/exports/a\\040b /mnt/with\\040space nfs4 10.0.0.6:/srv/share rw,vers=4.1,hard\n42 /other /srv/storage/data ceph x:/ rw\n';
  const out = applyOverlay(e, overlay);
  assert.deepEqual([out[2].fsType, out[2].source, out[2].superOptions, out[2].root], ['nfs4', '10.0.0.6:/srv/share', ['rw', 'vers=4.1', 'hard'], '/']);
  assert.equal(out[2].mountOptions.join(','), 'rw,nosuid', 'per-mount flags stay the kernel\'s');
  assert.equal(out[1].fsType, 'ext4', 'an id reused by another mount (other root) is left alone');
});
