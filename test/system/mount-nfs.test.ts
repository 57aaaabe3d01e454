// NFS: a real nfs-ganesha server (VFS backend, NFSv4 only, Graceless) answers the mount kind's
// reachability check (TCP 2049) and export check (libnfs's nfs-ls, a real NFSv4 client in
// userspace). This kernel has no NFS client, so the mount itself is done by the mount(8)
// STAND-IN (test/system/helpers/standins/mount): it records the exact command line, bind-mounts a
// folder on the target and reports the nfs4 mount to the agent through the stand-in kernel view (helpers/standin-kernel.ts).
// Needs root and Debian packages nfs-ganesha nfs-ganesha-vfs libnfs-utils.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { DeepPartial, Task } from '../../proto/gen/muster/agent/v1/tasks.js';
import { tempHost } from '../helpers/host.js';
import { findBinary } from './helpers/etcd.js';
import { applyFails, applyOk, cleanupHost, editUnit, isMounted, mountTimeline, standins, startGanesha, umountTarget, type Ganesha, type Standins } from './helpers/mount.js';

const missing = ['ganesha.nfsd', 'nfs-ls'].find((b) => !findBinary(b));
let dir: string;
let ganesha: Ganesha | undefined;
let stand: Standins;

before(async () => {
  stand = await standins();
  stand.use();
  if (missing) return;
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-nfs-'));
  await fs.mkdir(path.join(dir, 'share'));
  ganesha = await startGanesha(dir, [{ pseudo: '/srv/share', path: path.join(dir, 'share') }]);
});

after(async () => {
  await stand?.cleanup();
  await ganesha?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const nfsTask = (server = '127.0.0.1', exportPath = '/srv/share'): DeepPartial<Task> => ({
  id: 'share',
  mount: { target: '/mnt/share', nfs: { server, export: exportPath, version: '4.1' }, options: ['hard', 'noatime'] },
});

test('nfs: timeline against a real server; the mount is the stand-in\'s and its command line is an operator\'s', { timeout: 120_000 }, async (t) => {
  if (missing) return t.skip(`${missing} not installed`);
  const h = await tempHost({ kernel: stand.kernel });
  t.after(() => cleanupHost(h));
  let n = 0;
  const first = await mountTimeline(h, nfsTask(), (x) => (n++ % 2 ? editUnit('/mnt/share')(x) : umountTarget('/mnt/share')(x)));
  assert.equal(first.diffs[0].after, 'nfs 127.0.0.1:/srv/share (nfs4, vers=4.1,hard,noatime)');
  const mounts = stand.calls('mount');
  assert.equal(mounts.length, 2, 'mounted twice: the first apply and after the outside umount (the other drift is the unit file)');
  for (const call of mounts) assert.deepEqual(call, ['mount', '-t', 'nfs4', '-o', 'vers=4.1,hard,noatime', '127.0.0.1:/srv/share', h.real('/mnt/share')]);
  const unit = first.diffs.find((d) => d.header === '/etc/systemd/system/mnt-share.mount')!.after;
  assert.match(unit, /^What=127\.0\.0\.1:\/srv\/share$/m);
  assert.match(unit, /^Type=nfs4$/m);
  assert.match(unit, /^Options=vers=4\.1,hard,noatime,_netdev$/m);
});

test('nfs: an export the server does not have is refused (EXPORT_NOT_FOUND) before any mount', { timeout: 120_000 }, async (t) => {
  if (missing) return t.skip(`${missing} not installed`);
  const h = await tempHost({ kernel: stand.kernel });
  t.after(() => cleanupHost(h));
  const calls = stand.calls('mount').length;
  const r = await applyFails(h, nfsTask('127.0.0.1', '/srv/nope'));
  assert.equal(r.errorCode, 'EXPORT_NOT_FOUND');
  assert.match(r.errorMessage, /^127\.0\.0\.1:\/srv\/nope: the server answers but does not export it to this node \(nfs-ls: .*NFS4ERR_NOENT/);
  assert.equal(stand.calls('mount').length, calls, 'no mount was tried');
  assert.equal(isMounted(h.real('/mnt/share')), undefined);
});

test('nfs: a server that does not answer is refused (STORAGE_UNREACHABLE) in seconds', { timeout: 120_000 }, async (t) => {
  if (missing) return t.skip(`${missing} not installed`);
  const h = await tempHost({ kernel: stand.kernel });
  t.after(() => cleanupHost(h));
  // ganesha listens on 127.0.0.1 only.
  const r = await applyFails(h, nfsTask('127.0.0.2'));
  assert.equal(r.errorCode, 'STORAGE_UNREACHABLE');
  assert.equal(r.errorMessage, 'NFS server 127.0.0.2: no answer on 127.0.0.2:2049 (TCP)');
});

test('nfs: the export check is real: the stopped server is unreachable, a started one answers', { timeout: 120_000 }, async (t) => {
  if (missing) return t.skip(`${missing} not installed`);
  const h = await tempHost({ kernel: stand.kernel });
  t.after(() => cleanupHost(h));
  await ganesha!.stop();
  const down = await applyFails(h, nfsTask());
  assert.equal(down.errorCode, 'STORAGE_UNREACHABLE');
  ganesha = await startGanesha(dir, [{ pseudo: '/srv/share', path: path.join(dir, 'share') }]);
  await applyOk(h, nfsTask());
  assert.equal(isMounted(h.real('/mnt/share'))?.mountPoint, h.real('/mnt/share'));
});
