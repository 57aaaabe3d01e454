// Ceph: one real single-node cluster (mon, mgr, bluestore OSD on a sparse file, MDS, CephFS, an
// rbd pool; helpers/ceph.ts) serves every case here.
//  - CephFS through ceph-fuse and an RBD image through rbd-fuse + a loop device run for real.
//  - This kernel has no ceph or rbd driver: CephFS through the kernel client uses the mount(8)
//    STAND-IN, and krbd / nbd mappings use the rbd / rbd-nbd STAND-IN
//    (test/system/helpers/standins/). The stand-ins record the exact command lines; the rbd
//    stand-in checks the image for real (rbd info, same client and keyring) before it puts a loop
//    device where the kernel's rbd device would be. Monitors are the real cluster's.
// Needs root and Debian packages ceph-mon ceph-mgr ceph-osd ceph-mds ceph-common ceph-fuse rbd-fuse.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cephPaths, fuseDir } from '../../agent/tasks/mount/ceph.js';
import { TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { CephFsClient, CephRbdMapper, MountPersistence, MountState } from '../../proto/gen/muster/agent/v1/mount.js';
import type { DeepPartial, Task } from '../../proto/gen/muster/agent/v1/tasks.js';
import { tempHost, type TempHost } from '../helpers/host.js';
import { findBinary } from './helpers/etcd.js';
import { cephClient, cephMissing, startCeph, type CephCluster } from './helpers/ceph.js';
import { applyFails, applyOk, cleanupHost, editUnit, isMounted, mountTimeline, newFilesIn, sh, standins, umountTarget, type Standins } from './helpers/mount.js';

const missing = cephMissing() ?? ['ceph-fuse', 'rbd-fuse'].find((b) => !findBinary(b));
let dir: string;
let ceph: CephCluster | undefined;
let key = '';
let stand: Standins;
// The task's clients log where a node's would: /var/log/ceph/<conf name>-client.<id>.log.
const clientLogs = newFilesIn(['/var/log/ceph']);
const startedAt = Date.now();
let startMs = 0;

before(async () => {
  stand = await standins();
  stand.use();
  if (missing) return;
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-ceph-'));
  ceph = await startCeph(path.join(dir, 'cluster'));
  startMs = Date.now() - startedAt;
  key = await cephClient(ceph, 'muster');
  for (const image of ['fuse1', 'krbd1', 'nbd1']) await ceph.rbd('create', `rbd/${image}`, '--size', '32M');
}, { timeout: 120_000 });

after(async () => {
  await stand?.cleanup();
  await ceph?.stop();
  await clientLogs.sweep();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
  if (startMs) console.log(`# ceph cluster: up in ${startMs} ms`);
});

async function host(t: { after(fn: () => Promise<void>): void }): Promise<TempHost> {
  const h = await tempHost({ kernel: stand.kernel });
  t.after(() => cleanupHost(h));
  return h;
}

const cephfs = (client: CephFsClient, target: string): DeepPartial<Task> => ({
  id: 'fs',
  mount: { target, cephfs: { monitors: [ceph!.monitor], path: '/', user: 'muster', key, client }, options: ['noatime'] },
});

const rbd = (mapper: CephRbdMapper, image: string, target: string, extra: DeepPartial<Task['mount']> = {}): DeepPartial<Task> => ({
  id: 'rbd',
  mount: { target, cephRbd: { monitors: [ceph!.monitor], pool: 'rbd', image, user: 'muster', key, mapper }, mkfs: true, deviceTimeoutMs: 20_000, ...extra },
});

const noKey = (r: object) => assert.ok(!JSON.stringify(r).includes(key), 'the cephx key appears nowhere in the result');

test('ceph: CephFS through ceph-fuse (real): timeline, files reach the data pool, keyring 0600 and never shown', { timeout: 120_000 }, async (t) => {
  if (missing) return t.skip(`${missing} not installed`);
  const h = await host(t);
  const target = '/mnt/cephfs';
  let n = 0;
  const first = await mountTimeline(h, cephfs(CephFsClient.CEPH_FS_CLIENT_FUSE, target), (x) => (n++ % 2 ? editUnit(target)(x) : umountTarget(target)(x)));
  noKey(first);
  const p = cephPaths(target);
  const keyring = first.diffs.find((d) => d.header === p.keyring);
  assert.match(keyring?.after ?? '', /^\(secret, \d+ bytes\)$/);
  const unit = first.diffs.find((d) => d.header === '/etc/systemd/system/mnt-cephfs.mount')!.after;
  assert.match(unit, /^What=none$/m);
  assert.match(unit, /^Type=fuse\.ceph$/m);
  assert.match(unit, new RegExp(`^Options=ceph\\.id=muster,ceph\\.conf=${p.conf},ceph\\.keyring=${p.keyring},ceph\\.client_mountpoint=/,noatime,_netdev$`, 'm'));

  await applyOk(h, cephfs(CephFsClient.CEPH_FS_CLIENT_FUSE, target));
  assert.equal(isMounted(h.real(target))?.fsType, 'fuse.ceph-fuse');
  const st = await fs.stat(h.real(p.keyring));
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal(readFileSync(h.real(p.keyring), 'utf8'), `[client.muster]\n\tkey = ${key}\n`);
  const fd = await fs.open(h.real(`${target}/hello.txt`), 'w');
  await fd.write('into the data pool\n');
  await fd.sync();
  await fd.close();
  const objects = await ceph!.ceph('osd', 'pool', 'stats', 'cephfs_data');
  assert.ok(objects);
  const listed = sh('rados', ['-c', ceph!.conf, '-p', 'cephfs_data', 'ls']).out;
  assert.match(listed, /^[0-9a-f]+\.00000000$/m, 'the file is an object in cephfs_data');
  await applyOk(h, { ...cephfs(CephFsClient.CEPH_FS_CLIENT_FUSE, target), mount: { ...cephfs(CephFsClient.CEPH_FS_CLIENT_FUSE, target).mount, state: MountState.MOUNT_STATE_ABSENT } });
  await assert.rejects(fs.stat(h.real(p.keyring)), 'absent removes the keyring');
});

test('ceph: RBD through rbd-fuse and a loop device (real): timeline with mkfs; absent detaches and unmounts everything', { timeout: 120_000 }, async (t) => {
  if (missing) return t.skip(`${missing} not installed`);
  const h = await host(t);
  const target = '/srv/storage/rbd-fuse';
  const task = rbd(CephRbdMapper.CEPH_RBD_MAPPER_FUSE, 'fuse1', target, { persistence: MountPersistence.MOUNT_PERSISTENCE_NONE });
  // rbd-fuse reports each image's mtime as the current time: compared by mode and content only.
  const first = await mountTimeline(h, task, umountTarget(target), [fuseDir(target)]);
  noKey(first);
  assert.deepEqual(first.diffs.map((d) => d.header), [
    `mount ${target}`,
    `rbd-fuse rbd/fuse1 on ${fuseDir(target)}`,
    `loop device over ${fuseDir(target)}/fuse1`,
    cephPaths(target).conf,
    cephPaths(target).keyring,
  ]);
  assert.equal(isMounted(h.real(fuseDir(target))), undefined, 'rbd-fuse is unmounted after absent');
  await assert.rejects(fs.stat(h.real(fuseDir(target))), 'and its folder removed');

  // Mounted again: the data sits in the RBD image, seen through rbd-fuse.
  await applyOk(h, task);
  const live = isMounted(h.real(target));
  assert.equal(live?.fsType, 'ext4');
  const backing = readFileSync(`/sys/block/${path.basename(live!.source)}/loop/backing_file`, 'utf8').trim();
  assert.equal(backing, path.join(h.real(fuseDir(target)), 'fuse1'));
  assert.equal(isMounted(h.real(fuseDir(target)))?.fsType, 'fuse.rbd-fuse');
  await applyOk(h, { ...task, mount: { ...task.mount, state: MountState.MOUNT_STATE_ABSENT } });
});

test('ceph: CephFS through the kernel client (stand-in mount, real monitors): timeline; the command line and secret file', { timeout: 120_000 }, async (t) => {
  if (missing) return t.skip(`${missing} not installed`);
  const h = await host(t);
  const target = '/mnt/cephfs-kernel';
  const before = stand.calls('mount').length;
  let n = 0;
  const first = await mountTimeline(h, cephfs(CephFsClient.CEPH_FS_CLIENT_KERNEL, target), (x) => (n++ % 2 ? editUnit(target)(x) : umountTarget(target)(x)));
  noKey(first);
  const secret = h.real(cephPaths(target).secret);
  const calls = stand.calls('mount').slice(before);
  assert.equal(calls.length, 2);
  for (const c of calls) assert.deepEqual(c, ['mount', '-t', 'ceph', '-o', `name=muster,secretfile=${secret},noatime`, `${ceph!.monitor}:/`, h.real(target)]);
  const unit = first.diffs.find((d) => d.header === '/etc/systemd/system/mnt-cephfs\\x2dkernel.mount')!.after;
  assert.match(unit, new RegExp(`^What=${ceph!.monitor}:/$`, 'm'));
  assert.match(unit, /^Type=ceph$/m);
  assert.match(unit, new RegExp(`^Options=name=muster,secretfile=${cephPaths(target).secret},noatime,_netdev$`, 'm'));
});

test('ceph: RBD through krbd (stand-in rbd, real image check): timeline, rbdmap entry and enabled rbdmap.service', { timeout: 120_000 }, async (t) => {
  if (missing) return t.skip(`${missing} not installed`);
  const h = await host(t);
  const target = '/mnt/rbd-krbd';
  const before = stand.calls('rbd').length;
  let n = 0;
  const first = await mountTimeline(h, rbd(CephRbdMapper.CEPH_RBD_MAPPER_KRBD, 'krbd1', target), (x) => (n++ % 2 ? editUnit(target)(x) : umountTarget(target)(x)));
  noKey(first);
  const p = cephPaths(target);
  const client = ['--id', 'muster', '--keyring', h.real(p.keyring), '-c', h.real(p.conf)];
  const calls = stand.calls('rbd').slice(before).filter((c) => c[1] !== 'showmapped');
  assert.deepEqual(calls.slice(0, 2), [['rbd', 'info', 'rbd/krbd1', ...client], ['rbd', 'map', 'rbd/krbd1', ...client]]);
  assert.deepEqual(calls.at(-1)?.slice(0, 2), ['rbd', 'unmap']);
  assert.match(calls.at(-1)![2], /^\/dev\/loop\d+$/);
  assert.deepEqual(first.diffs.map((d) => d.header).slice(0, 2), [`mount ${target}`, 'rbd mapping rbd/krbd1']);
  const rbdmap = first.diffs.find((d) => d.header === '/etc/ceph/rbdmap (muster managed: rbd/krbd1)')!;
  assert.equal(rbdmap.after, `rbd/krbd1\tid=muster,keyring=${p.keyring},conf=${p.conf}`);
  assert.ok(first.diffs.some((d) => d.header === '/etc/systemd/system/multi-user.target.wants/rbdmap.service (enable link)'));
  const unit = first.diffs.find((d) => d.header === '/etc/systemd/system/mnt-rbd\\x2dkrbd.mount')!.after;
  assert.match(unit, /^What=\/dev\/rbd\/rbd\/krbd1$/m);
  assert.equal(await fs.readFile(h.real('/etc/ceph/rbdmap'), 'utf8'), '', 'absent took its line (and the empty block) out of rbdmap');
});

test('ceph: RBD through rbd-nbd (stand-in): timeline with persistence none; nbd cannot persist', { timeout: 120_000 }, async (t) => {
  if (missing) return t.skip(`${missing} not installed`);
  const h = await host(t);
  const target = '/mnt/rbd-nbd';
  const before = stand.calls('rbd-nbd').length;
  const task = rbd(CephRbdMapper.CEPH_RBD_MAPPER_NBD, 'nbd1', target, { persistence: MountPersistence.MOUNT_PERSISTENCE_NONE });
  const first = await mountTimeline(h, task, umountTarget(target));
  noKey(first);
  const p = cephPaths(target);
  const calls = stand.calls('rbd-nbd').slice(before).filter((c) => c[1] !== 'list-mapped');
  assert.deepEqual(calls[0], ['rbd-nbd', 'map', 'rbd/nbd1', '--id', 'muster', '--keyring', h.real(p.keyring), '-c', h.real(p.conf)]);
  assert.deepEqual(calls.at(-1)?.slice(0, 2), ['rbd-nbd', 'unmap']);

  const persisted = await applyFails(h, rbd(CephRbdMapper.CEPH_RBD_MAPPER_NBD, 'nbd1', target));
  assert.equal(persisted.errorCode, 'INVALID_SPEC');
  assert.match(persisted.errorMessage, /only the krbd mapper maps at boot/);
});

test('ceph: an image that does not exist is EXPORT_NOT_FOUND; a client without rbd caps fails fast instead of hanging rbd-fuse', { timeout: 120_000 }, async (t) => {
  if (missing) return t.skip(`${missing} not installed`);
  const h = await host(t);
  const nope = await applyFails(h, rbd(CephRbdMapper.CEPH_RBD_MAPPER_FUSE, 'nope', '/mnt/nope', { persistence: MountPersistence.MOUNT_PERSISTENCE_NONE }));
  assert.equal(nope.errorCode, 'EXPORT_NOT_FOUND');
  assert.match(nope.errorMessage, /^rbd image rbd\/nope does not exist/);
  noKey(nope);
  await ceph!.ceph('auth', 'get-or-create', 'client.weak', 'mon', 'allow r', 'osd', 'allow rw pool=rbd');
  const weakKey = (await ceph!.ceph('auth', 'print-key', 'client.weak')).trim();
  const weak = rbd(CephRbdMapper.CEPH_RBD_MAPPER_FUSE, 'fuse1', '/mnt/weak', { persistence: MountPersistence.MOUNT_PERSISTENCE_NONE });
  weak.mount!.cephRbd = { ...weak.mount!.cephRbd, user: 'weak', key: weakKey };
  const started = Date.now();
  const r = await applyFails(h, weak);
  assert.match(r.errorMessage, /^rbd info rbd\/fuse1 as client\.weak: exit \d+: .*(Operation not permitted|Permission denied)/);
  assert.ok(Date.now() - started < 30_000);
  assert.equal(isMounted(h.real(fuseDir('/mnt/weak'))), undefined, 'rbd-fuse was never started');
  assert.equal((await applyOk(h, rbd(CephRbdMapper.CEPH_RBD_MAPPER_FUSE, 'fuse1', '/mnt/weak', { persistence: MountPersistence.MOUNT_PERSISTENCE_NONE, state: MountState.MOUNT_STATE_ABSENT }))).status, TaskStatus.TASK_STATUS_CHANGED, 'absent cleans the credential files up');
});
