// Every mount unit the mount kind generates, one per source type and client, checked by the real
// `systemd-analyze verify` (systemd is installed here but is not PID 1). Needs package systemd.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { CephFsClient, MountSpec, MountState } from '../../proto/gen/muster/agent/v1/mount.js';
import { renderUnit, unitPath } from '../../agent/tasks/mount/persistence.js';
import { resolveMount, validateMount } from '../../agent/tasks/mount/spec.js';
import { requireBinaries, sh } from './helpers/mount.js';

const KEY = 'AQBzRmVkAAAAABAAmuster+test+key+only+0000==';

const UNIT_CASES: Record<string, Partial<MountSpec>> = {
  block: { target: '/srv/storage/data', block: { device: '/dev/md0' }, options: ['noatime', 'nofail'] },
  'block (by-id, xfs)': { target: '/mnt/disk one', block: { device: '/dev/disk/by-id/wwn-0x5000c500a1b2c3d4' }, fsType: 'xfs' },
  iscsi: { target: '/var/lib/kubelet/volumes/lun1', iscsi: { portal: '10.0.0.5', iqn: 'iqn.2026-11.io.example:storage.lun1', lun: 1, chapUsername: 'u', chapPassword: 'p4ssw0rd-secret', initiatorName: '' } },
  nfs: { target: '/mnt/share', nfs: { server: 'nfs.example', export: '/srv/share', version: '4.1' }, options: ['hard', 'noatime'] },
  'nfs v3': { target: '/mnt/share-v3', nfs: { server: '10.0.0.6', export: '/export', version: '3' } },
  'ceph rbd (krbd)': { target: '/mnt/rbd-data', cephRbd: { monitors: ['10.0.0.1', '10.0.0.2:6789'], pool: 'rbd', image: 'data', user: 'k8s', key: KEY, mapper: 0 } },
  'cephfs (kernel)': { target: '/mnt/cephfs', cephfs: { monitors: ['10.0.0.1', '10.0.0.2'], path: '/volumes/a', user: 'k8s', key: KEY, client: CephFsClient.CEPH_FS_CLIENT_KERNEL } },
  'cephfs (fuse)': { target: '/mnt/cephfs-fuse', cephfs: { monitors: ['10.0.0.1'], path: '/', user: 'admin', key: KEY, client: CephFsClient.CEPH_FS_CLIENT_FUSE } },
  glusterfs: { target: '/srv/storage/gv0', glusterfs: { servers: ['gfs1', 'gfs2', 'gfs3'], volume: 'gv0' }, options: ['noatime'] },
  'unmounted block': { target: '/srv/storage/cold', block: { device: '/dev/sdb1' }, state: MountState.MOUNT_STATE_UNMOUNTED },
};

test('mount units: systemd-analyze verify accepts every generated unit', { timeout: 120_000 }, async (t) => {
  if (!requireBinaries(t, 'systemd-analyze')) return;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-units-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  for (const [name, partial] of Object.entries(UNIT_CASES)) {
    const spec = MountSpec.fromPartial(partial);
    assert.deepEqual(validateMount(spec), [], name);
    const m = resolveMount(spec);
    const entry = m.driver.bootEntry(m);
    assert.notEqual(typeof entry, 'string', name);
    const file = path.join(dir, path.basename(unitPath(m.target)));
    await fs.writeFile(file, renderUnit(m, entry as Exclude<typeof entry, string>));
    const r = sh('systemd-analyze', ['verify', '--man=no', file], { allowFailure: true });
    // verify also lints the machine's own units; only lines about ours count.
    const ours = r.out.split('\n').filter((l) => l.includes(path.basename(file)));
    assert.equal(r.code, 0, `${name}: systemd-analyze verify ${file}:\n${r.out}`);
    assert.deepEqual(ours, [], `${name}: ${ours.join('\n')}`);
  }
});

test('mount units: verify refuses a unit whose name does not match Where= (the check is real)', { timeout: 120_000 }, async (t) => {
  if (!requireBinaries(t, 'systemd-analyze')) return;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-units-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const m = resolveMount(MountSpec.fromPartial(UNIT_CASES.block));
  const file = path.join(dir, 'mnt-wrong.mount');
  await fs.writeFile(file, renderUnit(m, m.driver.bootEntry(m) as Exclude<ReturnType<typeof m.driver.bootEntry>, string>));
  const r = sh('systemd-analyze', ['verify', '--man=no', file], { allowFailure: true });
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /Where= setting doesn't match unit name/);
});
