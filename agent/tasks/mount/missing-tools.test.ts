import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { TaskStatus } from '../../../proto/gen/muster/agent/v1/agent.js';
import { CephRbdMapper, MountPersistence, MountState } from '../../../proto/gen/muster/agent/v1/mount.js';
import { tempHost, type TempHost } from '../../../test/helpers/host.js';

// A node without open-iscsi or ceph-common: nothing can be attached there, so absent holds at
// once, and a mount says which program is missing instead of failing on a spawn error.
const saved = process.env.PATH;
let h: TempHost;
let portal: net.Server;
let port = 0;

before(async () => {
  h = await tempHost();
  portal = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => portal.listen(0, '127.0.0.1', r));
  port = (portal.address() as net.AddressInfo).port;
  process.env.PATH = '/nonexistent';
});

after(async () => {
  process.env.PATH = saved;
  portal.close();
  await h.cleanup();
});

const iscsi = (state: MountState) => ({
  id: 'lun',
  mount: { target: '/mnt/lun', iscsi: { portal: `127.0.0.1:${port}`, iqn: 'iqn.2026-11.io.example:lun', lun: 0 }, state },
});

test('missing tools: absent holds without iscsiadm or rbd on the node', async () => {
  const rbd = { id: 'rbd', mount: { target: '/mnt/rbd', cephRbd: { monitors: ['m1'], pool: 'p', image: 'i', key: 'AQBzRmVkAAAAABAAmuster+test+key+only+0000==', mapper: CephRbdMapper.CEPH_RBD_MAPPER_NBD }, persistence: MountPersistence.MOUNT_PERSISTENCE_NONE, state: MountState.MOUNT_STATE_ABSENT } };
  const { results } = await h.run([iscsi(MountState.MOUNT_STATE_ABSENT), rbd]);
  assert.deepEqual(results.map((r) => [TaskStatus[r.status], r.errorMessage]), [['TASK_STATUS_OK', ''], ['TASK_STATUS_OK', '']]);
});

test('missing tools: a mount names the program and its package', async () => {
  const { results } = await h.run([iscsi(MountState.MOUNT_STATE_MOUNTED)]);
  assert.equal(results[0].status, TaskStatus.TASK_STATUS_FAILED);
  assert.equal(results[0].errorMessage, 'iscsiadm is not installed on this node (Debian package open-iscsi)');
});
