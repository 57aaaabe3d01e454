// End to end: a real musterd process (mTLS on loopback, its own root folder) converges a block
// device and a real GlusterFS volume, driven over gRPC by the controller's AgentClient (the
// CLI path is test/system/mount-cli.test.ts). Needs root,
// util-linux, e2fsprogs, glusterfs-server and glusterfs-client.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { AgentClient, fleetChannelCredentials } from '../../controller/fleet/client.js';
import { readFleetCredentials } from '../../controller/pki/fleet.js';
import { ApplyMode, Plan, TaskStatus, type TaskResult } from '../../proto/gen/muster/agent/v1/agent.js';
import { MountState } from '../../proto/gen/muster/agent/v1/mount.js';
import type { DeepPartial, Task } from '../../proto/gen/muster/agent/v1/tasks.js';
import { makeFleet, spawnAgents } from '../helpers/fleet.js';
import { attachLoop, detachLoopsUnder, isMounted, makeImage, requireBinaries, sh, startGluster, unmountUnder, type Gluster } from './helpers/mount.js';

test('agent: musterd mounts a block device and a GlusterFS volume, keeps them, and removes them', { timeout: 120_000 }, async (t) => {
  if (!requireBinaries(t, 'glusterd', 'gluster', 'mount.glusterfs', 'losetup', 'mkfs.ext4')) return;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-mount-agent-'));
  const f = await makeFleet(1, 's');
  // Filled in as they start; the cleanup stops whatever got started.
  const started: { agents?: Awaited<ReturnType<typeof spawnAgents>>; gluster?: Gluster; client?: AgentClient } = {};
  const root = f.nodeRoot('s1');
  t.after(async () => {
    started.client?.close();
    await started.agents?.stop();
    unmountUnder(root);
    await started.gluster?.stop();
    detachLoopsUnder(dir);
    await f.cleanup();
    await fs.rm(dir, { recursive: true, force: true });
  });
  const gluster = (started.gluster = await startGluster(path.join(dir, 'gluster')));
  const loop = attachLoop(await makeImage(path.join(dir, 'disk.img'), '64M'));
  started.agents = await spawnAgents(f);
  const client = (started.client = new AgentClient(f.inventory.nodes[0], fleetChannelCredentials(await readFleetCredentials(f.state))));

  const tasks = (state = MountState.MOUNT_STATE_MOUNTED): DeepPartial<Task>[] => [
    { id: 'data', mount: { target: '/srv/storage/data', block: { device: loop }, mkfs: true, state } },
    { id: 'shared', mount: { target: '/mnt/gv0', glusterfs: { servers: ['127.0.0.1'], volume: 'gv0' }, state } },
  ];
  let revision = 0;
  const apply = async (mode: ApplyMode, state?: MountState): Promise<TaskResult[]> => {
    const plan = Plan.fromPartial({ node: 's1', revision: `r${++revision}`, tasks: tasks(state) });
    const out = await client.apply(plan, mode, { timeoutMs: 60_000 });
    assert.equal(out.error, undefined);
    for (const r of out.results) if (r.status === TaskStatus.TASK_STATUS_FAILED) assert.fail(`${r.id}: ${r.errorCode}: ${r.errorMessage}`);
    return out.results;
  };
  const statuses = (rs: TaskResult[]) => rs.map((r) => TaskStatus[r.status]);

  assert.deepEqual(statuses(await apply(ApplyMode.APPLY_MODE_CHECK)), ['TASK_STATUS_WOULD_CHANGE', 'TASK_STATUS_WOULD_CHANGE']);
  assert.equal(isMounted(path.join(root, 'srv/storage/data')), undefined, 'check mode mounted nothing');
  assert.deepEqual(statuses(await apply(ApplyMode.APPLY_MODE_APPLY)), ['TASK_STATUS_CHANGED', 'TASK_STATUS_CHANGED']);
  assert.equal(isMounted(path.join(root, 'srv/storage/data'))?.fsType, 'ext4');
  assert.equal(isMounted(path.join(root, 'mnt/gv0'))?.fsType, 'fuse.glusterfs');
  await fs.writeFile(path.join(root, 'mnt/gv0/from-agent.txt'), 'e2e\n');
  assert.equal(await fs.readFile(path.join(gluster.brick, 'from-agent.txt'), 'utf8'), 'e2e\n');
  assert.match(await fs.readFile(path.join(root, 'etc/systemd/system/mnt-gv0.mount'), 'utf8'), /^What=127\.0\.0\.1:\/gv0$/m);
  assert.deepEqual(statuses(await apply(ApplyMode.APPLY_MODE_APPLY)), ['TASK_STATUS_OK', 'TASK_STATUS_OK']);

  // Drift behind the agent's back: the volume is unmounted by hand.
  sh('umount', [path.join(root, 'mnt/gv0')]);
  assert.deepEqual(statuses(await apply(ApplyMode.APPLY_MODE_CHECK)), ['TASK_STATUS_OK', 'TASK_STATUS_WOULD_CHANGE']);
  assert.deepEqual(statuses(await apply(ApplyMode.APPLY_MODE_APPLY)), ['TASK_STATUS_OK', 'TASK_STATUS_CHANGED']);

  assert.deepEqual(statuses(await apply(ApplyMode.APPLY_MODE_APPLY, MountState.MOUNT_STATE_ABSENT)), ['TASK_STATUS_CHANGED', 'TASK_STATUS_CHANGED']);
  assert.equal(isMounted(path.join(root, 'mnt/gv0')), undefined);
  assert.equal(isMounted(path.join(root, 'srv/storage/data')), undefined);
  await assert.rejects(fs.stat(path.join(root, 'etc/systemd/system/mnt-gv0.mount')));
});
