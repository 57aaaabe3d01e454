import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SpecError } from '../../common/yaml-load.js';
import { ClusterPki } from '../pki/cluster.js';
import { plansFrom } from '../app/plan-set.js';
import { CephFsClient, MountPersistence, MountState } from '../../proto/gen/muster/agent/v1/mount.js';
import { loadClusterSpec } from './cluster.js';
import { loadInventory } from './inventory.js';
import { mountSchema, toMountSpec } from './storage.js';

test('storage: each type converts to the agent\'s mount spec with its defaults', () => {
  const gluster = toMountSpec(mountSchema.parse({ target: '/srv/storage/gv0', glusterfs: { servers: ['g1', 'g2', 'g3'], volume: 'gv0' } }));
  assert.equal(gluster.state, MountState.MOUNT_STATE_MOUNTED);
  assert.equal(gluster.persistence, MountPersistence.MOUNT_PERSISTENCE_SYSTEMD);
  assert.deepEqual(gluster.glusterfs, { servers: ['g1', 'g2', 'g3'], volume: 'gv0' });
  const cephfs = toMountSpec(mountSchema.parse({ target: '/mnt/cephfs', persistence: 'fstab', cephfs: { monitors: ['10.0.0.41:6789'], key: 'AQB...==', client: 'fuse' } }));
  assert.equal(cephfs.cephfs?.client, CephFsClient.CEPH_FS_CLIENT_FUSE);
  assert.equal(cephfs.cephfs?.path, '/');
  assert.equal(cephfs.persistence, MountPersistence.MOUNT_PERSISTENCE_FSTAB);
  const iscsi = toMountSpec(mountSchema.parse({ target: '/mnt/lun1', mkfs: true, iscsi: { portal: '10.0.0.50:3260', iqn: 'iqn.2026-11.io.example:lun1', lun: 1 } }));
  assert.equal(iscsi.iscsi?.lun, 1);
  assert.equal(iscsi.mkfs, true);
});

test('storage: a mount with no source, two sources, a bad IQN or a device outside /dev is refused', () => {
  for (const bad of [
    { target: '/mnt/x' },
    { target: '/mnt/x', block: { device: '/dev/md0' }, nfs: { server: 'n', export: '/e' } },
    { target: '/mnt/x', iscsi: { portal: 'p:3260', iqn: 'not-an-iqn' } },
    { target: '/mnt/x', block: { device: '/tmp/disk.img' } },
    { target: 'relative', block: { device: '/dev/sdb' } },
  ]) {
    assert.equal(mountSchema.safeParse(bad).success, false, JSON.stringify(bad));
  }
});

test('storage: the cluster spec puts mounts on the nodes each entry selects', async (t) => {
  const ex = new URL('../../examples/ha-cluster/', import.meta.url).pathname;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-storage-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const inv = await loadInventory(path.join(ex, 'inventory.yaml'));
  const spec = path.join(dir, 'cluster.yaml');
  await fs.writeFile(spec, `${await fs.readFile(path.join(ex, 'cluster.yaml'), 'utf8')}
storage:
  - id: data
    on: { roles: [worker] }
    mount: { target: /srv/storage/data, block: { device: /dev/md0 }, mkfs: true }
  - id: shared
    on: { labels: { rack: a } }
    mount: { target: "/mnt/\${NODE_NAME}", glusterfs: { servers: [10.0.2.1, 10.0.2.2], volume: gv0 } }
`);
  const { plans } = await plansFrom({ inv, cluster: await loadClusterSpec(spec, inv) }, new ClusterPki(path.join(dir, 'state'), inv.cluster));
  const mounts = (node: string) => plans.find((p) => p.node === node)!.tasks.filter((x) => x.mount).map((x) => `${x.id}:${x.mount!.target}`);
  assert.deepEqual(mounts('w3'), ['storage-data:/srv/storage/data']);
  assert.deepEqual(mounts('m1'), ['storage-shared:/mnt/m1']);
  assert.deepEqual(mounts('m2'), []);

  await fs.appendFile(spec, `  - id: broken\n    mount: { target: /mnt/b, block: { device: sdb } }\n`);
  await assert.rejects(loadClusterSpec(spec, inv), (err: unknown) => err instanceof SpecError && /cluster\.yaml:\d+:\d+: storage\[2\]\.mount\.block\.device: must be a device path under \/dev/.test(err.message));
});
