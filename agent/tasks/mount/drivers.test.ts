import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { CephFsClient, CephRbdMapper, MountSpec, type DeepPartial } from '../../../proto/gen/muster/agent/v1/mount.js';
import { AgentError } from '../../errors.js';
import { Host } from '../../host/host.js';
import { DEFAULT_ALLOWED_TREES } from '../../host/path-policy.js';
import { cephPaths, fuseDir } from './ceph.js';
import type { Mount } from './driver.js';
import { resolveMount, validateMount } from './spec.js';
import { linuxKernel } from '../../host/kernel.js';

// Every program a driver runs is replaced by a recorder on PATH: the exact argv of each call,
// as the driver composes it, without root or storage. (The system tests run the real ones.)
let bin: string;
let root: string;
let log: string;
let host: Host;
const saved = process.env.PATH;
const ctx = () => ({ host, log: pino({ level: 'silent' }), kernel: linuxKernel(host.root) });
const KEY = 'AQBzRmVkAAAAABAAmuster+test+key+only+0000==';

before(async () => {
  bin = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-recorders-'));
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-drivers-'));
  log = path.join(bin, 'calls');
  const recorder = `#!/bin/bash
printf '%s' "$(basename "$0")" >> ${log}; for a in "$@"; do printf '\\t%s' "$a" >> ${log}; done; echo >> ${log}
case "$(basename "$0") $1" in
  "losetup --find") echo /dev/loop9 ;;
  "rbd map"|"rbd-nbd map") echo /dev/rbd0 ;;
  "rbd-fuse "*) while [ $# -gt 1 ]; do [ "$1" = -r ] && image=$2; shift; done; touch "$1/$image" ;;
esac
`;
  for (const p of ['mount', 'iscsiadm', 'rbd', 'rbd-nbd', 'rbd-fuse', 'ceph-fuse', 'losetup', 'umount']) {
    writeFileSync(path.join(bin, p), recorder);
    chmodSync(path.join(bin, p), 0o755);
  }
  process.env.PATH = `${bin}:${saved}`;
  host = new Host({ root, allowedTrees: DEFAULT_ALLOWED_TREES, stateDir: '/var/lib/musterd' });
});

after(async () => {
  process.env.PATH = saved;
  await fs.rm(bin, { recursive: true, force: true });
  await fs.rm(root, { recursive: true, force: true });
});

function calls(): string[] {
  const text = readFileSync(log, 'utf8');
  writeFileSync(log, '');
  return text.split('\n').filter(Boolean).map((l) => l.split('\t').join(' '));
}

function mountOf(partial: DeepPartial<MountSpec>): Mount {
  const spec = MountSpec.fromPartial(partial);
  assert.deepEqual(validateMount(spec), []);
  return resolveMount(spec);
}

const real = (p: string) => path.join(root, p);

test('drivers: block mounts the device with the spec\'s type and options', async () => {
  writeFileSync(log, '');
  const m = mountOf({ target: '/srv/storage/data', block: { device: '/dev/md0' }, fsType: 'xfs', options: ['noatime', 'nofail'] });
  await m.driver.mount(m, ctx(), real('/srv/storage/data'), '/dev/md0');
  assert.deepEqual(calls(), [`mount -t xfs -o noatime /dev/md0 ${real('/srv/storage/data')}`], 'nofail is for boot, not for mount(8) now');
});

test('drivers: nfs mounts nfs4 with vers= first; v3 mounts nfs', async () => {
  const m = mountOf({ target: '/mnt/share', nfs: { server: '10.0.0.6', export: '/srv/share/', version: '4.2' }, options: ['hard', '_netdev'] });
  await m.driver.mount(m, ctx(), real('/mnt/share'), null);
  const v3 = mountOf({ target: '/mnt/v3', nfs: { server: 'fd00::6', export: '/e', version: '3' } });
  await v3.driver.mount(v3, ctx(), real('/mnt/v3'), null);
  assert.deepEqual(calls(), [`mount -t nfs4 -o vers=4.2,hard 10.0.0.6:/srv/share ${real('/mnt/share')}`, `mount -t nfs -o vers=3 [fd00::6]:/e ${real('/mnt/v3')}`]);
});

test('drivers: glusterfs keeps backup-volfile-servers on the command line for mount.glusterfs', async () => {
  const m = mountOf({ target: '/mnt/gv0', glusterfs: { servers: ['gfs1', 'gfs2', 'gfs3'], volume: 'gv0' }, options: ['noatime'] });
  await m.driver.mount(m, ctx(), real('/mnt/gv0'), null);
  assert.deepEqual(calls(), [`mount -t glusterfs -o backup-volfile-servers=gfs2:gfs3,noatime gfs1:/gv0 ${real('/mnt/gv0')}`]);
});

test('drivers: cephfs through the kernel passes the secret file (never the key), through FUSE the keyring', async () => {
  const k = mountOf({ target: '/mnt/cephfs', cephfs: { monitors: ['10.0.0.1', '10.0.0.2:6789'], path: '/volumes/a', user: 'k8s', key: KEY, client: CephFsClient.CEPH_FS_CLIENT_KERNEL } });
  await k.driver.mount(k, ctx(), real('/mnt/cephfs'), null);
  const f = mountOf({ target: '/mnt/cephfs', cephfs: { monitors: ['10.0.0.1'], path: '/volumes/a', user: 'k8s', key: KEY, client: CephFsClient.CEPH_FS_CLIENT_FUSE }, options: ['noatime'] });
  await f.driver.mount(f, ctx(), real('/mnt/cephfs'), null);
  const p = cephPaths('/mnt/cephfs');
  const got = calls();
  assert.deepEqual(got, [
    `mount -t ceph -o name=k8s,secretfile=${real(p.secret)} 10.0.0.1,10.0.0.2:6789:/volumes/a ${real('/mnt/cephfs')}`,
    `ceph-fuse -n client.k8s -k ${real(p.keyring)} -c ${real(p.conf)} -r /volumes/a -o noatime ${real('/mnt/cephfs')}`,
  ]);
  assert.ok(!got.join('\n').includes(KEY));
});

test('drivers: rbd maps with krbd, nbd or rbd-fuse + losetup, and unmaps the device it found', async () => {
  const p = cephPaths('/mnt/rbd');
  const client = `--id k8s --keyring ${real(p.keyring)} -c ${real(p.conf)}`;
  for (const [mapper, map, unmap] of [
    [CephRbdMapper.CEPH_RBD_MAPPER_KRBD, `rbd map rbd/data ${client}`, 'rbd unmap /dev/rbd0'],
    [CephRbdMapper.CEPH_RBD_MAPPER_NBD, `rbd-nbd map rbd/data ${client}`, 'rbd-nbd unmap /dev/rbd0'],
  ] as const) {
    const m = mountOf({ target: '/mnt/rbd', cephRbd: { monitors: ['10.0.0.1'], pool: 'rbd', image: 'data', user: 'k8s', key: KEY, mapper }, persistence: 3 });
    await m.driver.attachment!.up(m, { device: null }, ctx());
    await m.driver.attachment!.down(m, { device: '/dev/rbd0' }, ctx());
    assert.deepEqual(calls(), [map, unmap]);
  }
  const m = mountOf({ target: '/mnt/rbd', cephRbd: { monitors: ['10.0.0.1'], pool: 'rbd', image: 'data', user: 'k8s', key: KEY, mapper: CephRbdMapper.CEPH_RBD_MAPPER_FUSE }, persistence: 3 });
  await m.driver.attachment!.up(m, { mounted: false, loop: null }, ctx());
  await m.driver.attachment!.down(m, { mounted: true, loop: '/dev/loop9' }, ctx());
  const dir = real(fuseDir('/mnt/rbd'));
  assert.equal(fuseDir('/mnt/rbd'), '/mnt/.rbd-fuse-rbd');
  assert.deepEqual(calls(), [`rbd-fuse -p rbd -r data ${client} ${dir}`, `losetup --find --show ${dir}/data`, 'losetup -d /dev/loop9', `umount ${dir}`]);
});

test('drivers: iscsi discovers, sets what differs (CHAP, startup, initiator), logs in; absent logs out and deletes', async () => {
  const m = mountOf({ target: '/mnt/lun', iscsi: { portal: '10.0.0.5', iqn: 'iqn.2026-11.io.example:lun', lun: 0, chapUsername: 'u', chapPassword: 'pw-0123456789', initiatorName: 'iqn.2026-11.io.example:node1' } });
  const node = 'iscsiadm -m node -T iqn.2026-11.io.example:lun -p 10.0.0.5:3260';
  // The recorder prints nothing for discovery, so up() stops there: the portal "does not offer" the target.
  await assert.rejects(m.driver.attachment!.up(m, { session: false, record: null, passwordMatches: false, missing: false }, ctx()), (e: unknown) => e instanceof AgentError && e.code === 'EXPORT_NOT_FOUND' && /^the portal 10.0.0.5:3260 does not offer/.test(e.message));
  assert.deepEqual(calls(), ['iscsiadm -m discovery -t sendtargets -p 10.0.0.5:3260']);
  const record = { 'node.startup': 'manual', 'node.session.auth.authmethod': 'CHAP', 'node.session.auth.username': 'u', 'iface.initiatorname': '' };
  await m.driver.attachment!.up(m, { session: false, record, passwordMatches: true, missing: false }, ctx());
  assert.deepEqual(calls(), [
    `${node} -o update -n node.startup -v automatic`,
    `${node} -o update -n iface.initiatorname -v iqn.2026-11.io.example:node1`,
    `${node} --login`,
  ]);
  await m.driver.attachment!.down(m, { session: true, record, passwordMatches: true, missing: false }, ctx());
  assert.deepEqual(calls(), [`${node} --logout`, `${node} -o delete`]);
  assert.equal(m.driver.knownDevice!(m), '/dev/disk/by-path/ip-10.0.0.5:3260-iscsi-iqn.2026-11.io.example:lun-lun-0');
});
