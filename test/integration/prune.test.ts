import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { Agent } from '../../agent/agent.js';
import { AgentClient, fleetChannelCredentials } from '../../controller/fleet/client.js';
import { fleetStore } from '../../controller/pki/fleet.js';
import { ApplyMode, Plan, TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { snapshot } from '../helpers/host.js';
import { makeFleet, startAgents, type TestFleet } from '../helpers/fleet.js';

// Removal of what leaves the plan, through real gRPC with mTLS on loopback.
let f: TestFleet;
let agents: Agent[];
let client: AgentClient;

before(async () => {
  f = await makeFleet(1);
  agents = await startAgents(f);
  const store = fleetStore(f.state);
  client = new AgentClient(f.inventory.nodes[0], fleetChannelCredentials({ ca: (await store.read('ca'))!, controller: (await store.read('controller'))! }));
});

after(async () => {
  client.close();
  await Promise.all(agents.map((a) => a.stop()));
  await f.cleanup();
});

const file = (id: string) => ({ id, notify: [], file: { path: `/etc/kubernetes/${id}.conf`, content: Buffer.from(`${id}\n`), mode: 0o644, owner: '', group: '', secret: false } });
const plan = (ids: string[], keepRemoved?: boolean) => Plan.fromPartial({ node: 'n1', revision: ids.join('+'), keepRemoved, tasks: ids.map(file) });
const apply = (p: Plan, mode = ApplyMode.APPLY_MODE_APPLY) => client.apply(p, mode, { timeoutMs: 10_000 });
const onHost = (id: string) => fs.stat(`${f.nodeRoot('n1')}/etc/kubernetes/${id}.conf`).then(() => true, () => false);

test('prune over gRPC: plan A (x, y) then plan B (x): check shows would-remove touching nothing, apply removes y', async () => {
  assert.equal((await apply(plan(['x', 'y']))).summary?.changed, 2);
  const untouched = await snapshot(f.nodeRoot('n1'));
  const check = await apply(plan(['x']), ApplyMode.APPLY_MODE_CHECK);
  const y = check.results.find((r) => r.id === 'y')!;
  assert.equal(y.removal, true);
  assert.equal(y.status, TaskStatus.TASK_STATUS_WOULD_CHANGE);
  assert.equal(check.summary?.wouldChange, 1);
  assert.deepEqual(await snapshot(f.nodeRoot('n1')), untouched);

  const done = await apply(plan(['x']));
  assert.deepEqual(done.results.map((r) => [r.id, r.removal ?? false, TaskStatus[r.status]]), [['y', true, 'TASK_STATUS_CHANGED'], ['x', false, 'TASK_STATUS_OK']]);
  assert.equal(await onHost('y'), false);
  assert.equal(await onHost('x'), true);
});

test('prune over gRPC: with keep_removed (prune: false) y stays', async () => {
  await apply(plan(['x', 'y']));
  const r = await apply(plan(['x'], true));
  assert.equal(r.results.some((x) => x.removal), false);
  assert.equal(await onHost('y'), true);
});
