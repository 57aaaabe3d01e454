// The mount kind over the real wire (agents in-process, gRPC with mTLS on loopback), without
// root or storage: plans with mount tasks are validated whole before anything runs, check mode
// reports what a mount would change and touches nothing, and no cephx key or CHAP password ever
// travels back in a result.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Agent } from '../../agent/agent.js';
import { Host } from '../../agent/host/host.js';
import { observeMounts } from '../../agent/tasks/mount/index.js';
import { AgentClient, fleetChannelCredentials } from '../../controller/fleet/client.js';
import { readFleetCredentials } from '../../controller/pki/fleet.js';
import { ApplyMode, Plan, TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { CephFsClient, MountSpec } from '../../proto/gen/muster/agent/v1/mount.js';
import type { DeepPartial, Task } from '../../proto/gen/muster/agent/v1/tasks.js';
import { snapshot } from '../helpers/host.js';
import { makeFleet, startAgents, type TestFleet } from '../helpers/fleet.js';

let f: TestFleet;
let agents: Agent[];
let client: AgentClient;

before(async () => {
  f = await makeFleet(1);
  agents = await startAgents(f);
  client = new AgentClient(f.inventory.nodes[0], fleetChannelCredentials(await readFleetCredentials(f.state)));
});

after(async () => {
  client?.close();
  await Promise.all(agents.map((a) => a.stop()));
  await f.cleanup();
});

const KEY = 'AQBzRmVkAAAAABAAmuster+test+key+only+0000==';
const PASSWORD = 'Chap-Secret-0123456789';

async function send(tasks: DeepPartial<Task>[], mode: ApplyMode) {
  const out = await client.apply(Plan.fromPartial({ node: 'n1', revision: `r${Date.now()}`, tasks }), mode, { timeoutMs: 20_000 });
  assert.equal(out.error, undefined);
  return out;
}

test('mount over the wire: a plan with one bad mount is refused whole; nothing is written', async () => {
  const before = await snapshot(f.nodeRoot('n1'));
  const out = await send([
    { id: 'file', file: { path: '/etc/kubernetes/a.conf', content: Buffer.from('a\n') } },
    { id: 'nfs', mount: { target: '/mnt/share', nfs: { server: '10.0.0.6', export: 'relative' } } },
    { id: 'outside', mount: { target: '/home/x', block: { device: '/dev/sdb' } } },
  ], ApplyMode.APPLY_MODE_APPLY);
  assert.deepEqual(out.results.map((r) => [r.id, TaskStatus[r.status], r.errorCode]), [
    ['file', 'TASK_STATUS_SKIPPED', ''],
    ['nfs', 'TASK_STATUS_FAILED', 'INVALID_SPEC'],
    ['outside', 'TASK_STATUS_FAILED', 'PATH_NOT_ALLOWED'],
  ]);
  assert.match(out.results[1].errorMessage, /^mount \/mnt\/share: nfs.export "relative" is not an absolute path$/);
  assert.deepEqual(await snapshot(f.nodeRoot('n1')), before);
});

test('mount over the wire: two mounts on one target (however written) are one plan error', async () => {
  const out = await send([
    { id: 'a', mount: { target: '/mnt/x', block: { device: '/dev/sdb' } } },
    { id: 'b', mount: { target: '/mnt/x/', glusterfs: { servers: ['g1'], volume: 'v' } } },
  ], ApplyMode.APPLY_MODE_CHECK);
  assert.equal(out.results[1].errorCode, 'INVALID_PLAN');
  assert.match(out.results[1].errorMessage, /task b and task a both manage file:\/mnt\/x/);
});

test('mount over the wire: check mode shows what a CephFS and a GlusterFS mount would change, without a secret', async () => {
  const before = await snapshot(f.nodeRoot('n1'));
  const out = await send([
    { id: 'cephfs', mount: { target: '/mnt/cephfs', cephfs: { monitors: ['10.0.0.1', '10.0.0.2'], path: '/volumes/a', user: 'k8s', key: KEY, client: CephFsClient.CEPH_FS_CLIENT_KERNEL } } },
    { id: 'gv0', mount: { target: '/srv/storage/gv0', glusterfs: { servers: ['g1', 'g2'], volume: 'gv0' }, options: ['noatime'] } },
  ], ApplyMode.APPLY_MODE_CHECK);
  assert.deepEqual(out.results.map((r) => TaskStatus[r.status]), ['TASK_STATUS_WOULD_CHANGE', 'TASK_STATUS_WOULD_CHANGE']);
  const [ceph, gluster] = out.results;
  assert.deepEqual(ceph.diffs.map((d) => [d.header, d.before, d.after.split('\n')[0]]), [
    ['mount /mnt/cephfs', '(not mounted)', 'cephfs /volumes/a (kernel) (ceph, name=k8s,secretfile=/etc/ceph/muster_mnt_cephfs.secret)'],
    ['/etc/ceph/muster_mnt_cephfs.secret', '(absent)', `(secret, ${KEY.length + 1} bytes)`],
    ['/etc/systemd/system/mnt-cephfs.mount', '(absent)', '# Managed by muster (mount task); edits here are put back on the next apply.'],
    ['/etc/systemd/system/remote-fs.target.wants/mnt-cephfs.mount (enable link)', '(absent)', '/etc/systemd/system/mnt-cephfs.mount'],
  ]);
  assert.match(gluster.diffs[0].after, /^glusterfs g1:\/gv0 \(fuse\.glusterfs, backup-volfile-servers=g2,noatime\)$/);
  assert.ok(!JSON.stringify(out).includes(KEY), 'the cephx key is nowhere in the stream');
  assert.deepEqual(await snapshot(f.nodeRoot('n1')), before, 'check mode touched nothing');
});

test('mount over the wire: an iSCSI spec refused for its CHAP pair does not echo the password', async () => {
  const out = await send([
    { id: 'lun', mount: { target: '/mnt/lun', iscsi: { portal: '10.0.0.5', iqn: 'iqn.2026-11.io.example:lun', lun: 0, chapUsername: '', chapPassword: PASSWORD } } },
  ], ApplyMode.APPLY_MODE_APPLY);
  assert.equal(out.results[0].errorCode, 'INVALID_SPEC');
  assert.match(out.results[0].errorMessage, /chapUsername and chapPassword go together/);
  assert.ok(!JSON.stringify(out).includes(PASSWORD));
});

test('observeMounts: reports what is mounted at each target with its space, read-only', async () => {
  // The machine's own /dev/shm (tmpfs) stands for a mounted target: no root, no mount needed.
  const host = new Host({ root: '/', allowedTrees: ['/dev', '/mnt'], stateDir: '/var/lib/musterd' });
  const [shm, none, invalid] = await observeMounts([
    MountSpec.fromPartial({ target: '/dev/shm', block: { device: '/dev/muster-none' }, fsType: 'tmpfs' }),
    MountSpec.fromPartial({ target: '/mnt/muster-not-mounted', nfs: { server: 'h', export: '/e' } }),
    MountSpec.fromPartial({ target: 'relative' }),
  ], host);
  assert.equal(shm.fsType, 'tmpfs');
  assert.equal(shm.mounted, false, 'tmpfs, but not from the spec\'s device');
  assert.ok(shm.totalBytes > 0 && shm.freeBytes <= shm.totalBytes, JSON.stringify(shm));
  assert.deepEqual(none, { target: '/mnt/muster-not-mounted', mounted: false, source: '', fsType: '', freeBytes: 0, totalBytes: 0 });
  assert.equal(invalid.mounted, false);
});
