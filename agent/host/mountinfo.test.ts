import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeField, parseMountinfo, submounts, topMount, unescapeField } from './mountinfo.js';

// Real lines (proc(5) format): optional fields, a bind mount, escaped spaces, FUSE and NFS.
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

test('mountinfo: parses fields, optional tags and the separator', () => {
  const e = parseMountinfo(SAMPLE);
  assert.equal(e.length, 7);
  assert.deepEqual(e[1], {
    id: 42,
    parentId: 22,
    majorMinor: '7:0',
    root: '/',
    mountPoint: '/srv/storage/data',
    mountOptions: ['rw', 'noatime'],
    fsType: 'ext4',
    source: '/dev/loop0',
    superOptions: ['rw', 'discard', 'data=ordered'],
  });
  assert.equal(e[3].fsType, 'fuse.glusterfs');
  assert.equal(e[4].source, '10.0.0.6:/srv/share');
});

test('mountinfo: octal escapes (\\040 space, \\011 tab, \\012 newline, \\134 backslash) round-trip', () => {
  const e = parseMountinfo(SAMPLE);
  assert.equal(e[2].mountPoint, '/mnt/with space');
  assert.equal(e[2].root, '/tmp/exports/a b');
  assert.equal(unescapeField('a\\011b\\012c\\134d'), 'a\tb\nc\\d');
  const odd = 'x y\tz\n\\w';
  assert.equal(escapeField(odd), 'x\\040y\\011z\\012\\134w');
  assert.equal(unescapeField(escapeField(odd)), odd);
});

test('mountinfo: the mount on top wins, and submounts are found', () => {
  const e = parseMountinfo(SAMPLE);
  assert.equal(topMount(e, '/srv/storage/data')?.fsType, 'xfs', 'a later mount stacks over the earlier one');
  assert.equal(topMount(e, '/srv/storage'), undefined);
  assert.deepEqual(submounts(e, '/srv/storage/data').map((x) => x.mountPoint), ['/srv/storage/data/sub']);
  assert.deepEqual(submounts(e, '/srv/storage/dat'), [], 'whole path segments only');
});

