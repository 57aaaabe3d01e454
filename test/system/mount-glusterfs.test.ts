// The mount kind against a real GlusterFS volume: glusterd and a one-brick volume on loopback,
// mounted through the real FUSE client (mount -t glusterfs). Needs root and Debian packages
// glusterfs-server glusterfs-client; skips when glusterd is missing.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import type { DeepPartial, Task } from '../../proto/gen/muster/agent/v1/tasks.js';
import { tempHost, type TempHost } from '../helpers/host.js';
import { findBinary } from './helpers/etcd.js';
import { applyFails, applyOk, cleanupHost, editUnit, isMounted, mountTimeline, sh, startGluster, umountTarget, type Gluster } from './helpers/mount.js';

const missing = ['glusterd', 'gluster', 'mount.glusterfs'].find((b) => !findBinary(b));
let gluster: Gluster | undefined;
let dir: string;

before(async () => {
  if (missing) return;
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-gluster-'));
  gluster = await startGluster(dir);
});

after(async () => {
  await gluster?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

// The volume file comes from 127.0.0.1; the host name is the backup volfile server.
const glusterTask = (extra: DeepPartial<Task['mount']> = {}): DeepPartial<Task> => ({
  id: 'gv0',
  mount: { target: '/mnt/gv0', glusterfs: { servers: ['127.0.0.1', os.hostname()], volume: 'gv0' }, options: ['noatime'], ...extra },
});

async function host(t: { after(fn: () => Promise<void>): void }): Promise<TempHost> {
  const h = await tempHost();
  t.after(() => cleanupHost(h));
  return h;
}

test('glusterfs: timeline on a real volume through FUSE (outside umount, edited unit), then absent', { timeout: 120_000 }, async (t) => {
  if (missing) return t.skip(`${missing} not installed`);
  const h = await host(t);
  let n = 0;
  const first = await mountTimeline(h, glusterTask(), (x) => (n++ % 2 ? editUnit('/mnt/gv0')(x) : umountTarget('/mnt/gv0')(x)));
  assert.equal(first.diffs[0].after, `glusterfs 127.0.0.1:/gv0 (fuse.glusterfs, backup-volfile-servers=${os.hostname()},noatime)`);
});

test('glusterfs: the mount is the real volume: what is written shows up in the brick; the unit names the backup servers', { timeout: 120_000 }, async (t) => {
  if (missing) return t.skip(`${missing} not installed`);
  const h = await host(t);
  await applyOk(h, glusterTask());
  const live = isMounted(h.real('/mnt/gv0'));
  assert.equal(live?.fsType, 'fuse.glusterfs');
  assert.equal(live?.source, '127.0.0.1:/gv0');
  assert.ok(live?.mountOptions.includes('noatime'), `noatime reaches the kernel: ${live?.mountOptions}`);
  await fs.writeFile(h.real('/mnt/gv0/hello.txt'), 'through gluster\n');
  assert.equal(await fs.readFile(path.join(gluster!.brick, 'hello.txt'), 'utf8'), 'through gluster\n');
  const unit = await fs.readFile(h.real('/etc/systemd/system/mnt-gv0.mount'), 'utf8');
  assert.match(unit, /^What=127\.0\.0\.1:\/gv0$/m);
  assert.match(unit, /^Type=glusterfs$/m);
  assert.match(unit, new RegExp(`^Options=backup-volfile-servers=${os.hostname()},noatime,_netdev$`, 'm'));
  assert.match(unit, /^WantedBy=remote-fs.target$/m);
  // The client really was told about the backup server.
  const client = sh('ps', ['-eo', 'args']).out.split('\n').find((l) => l.includes('--volfile-id=/gv0') && l.includes(h.real('/mnt/gv0')));
  assert.match(client ?? '', new RegExp(`--volfile-server=127\\.0\\.0\\.1 --volfile-server=${os.hostname()}`));
});

test('glusterfs: a server that does not answer fails fast with STORAGE_UNREACHABLE and leaves the host as it was', { timeout: 120_000 }, async (t) => {
  if (missing) return t.skip(`${missing} not installed`);
  const h = await host(t);
  // glusterd listens on 127.0.0.1 only: 127.0.0.2 refuses the connection.
  const r = await applyFails(h, glusterTask({ glusterfs: { servers: ['127.0.0.2'], volume: 'gv0' } }));
  assert.equal(r.errorCode, 'STORAGE_UNREACHABLE');
  assert.equal(r.errorMessage, 'GlusterFS volume gv0: no answer on 127.0.0.2:24007 (TCP)');
  await assert.rejects(fs.stat(h.real('/etc/systemd/system/mnt-gv0.mount')));
});

test('glusterfs: a volume the server does not have fails the mount, and no unit is written', { timeout: 120_000 }, async (t) => {
  if (missing) return t.skip(`${missing} not installed`);
  const h = await host(t);
  const r = await applyFails(h, glusterTask({ glusterfs: { servers: ['127.0.0.1'], volume: 'nope' } }));
  assert.equal(r.errorCode, 'EXEC_FAILED');
  assert.match(r.errorMessage, /^mount -t glusterfs .*127\.0\.0\.1:\/nope .*: exit \d+/);
  assert.equal(isMounted(h.real('/mnt/gv0')), undefined);
  await assert.rejects(fs.stat(h.real('/etc/systemd/system/mnt-gv0.mount')));
  assert.equal((await applyOk(h, glusterTask())).status, TaskStatus.TASK_STATUS_CHANGED, 'the right volume still mounts');
});
