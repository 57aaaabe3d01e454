import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { startTestEtcd } from '../helpers/etcd-cluster.js';
import { FakeClock, SimFleet } from '../helpers/rollout-fleet.js';
import { RolloutRunner } from '../../controller/rollout/runner.js';
import type { EtcdStore } from '../../controller/store/etcd.js';
import { openBacking, type Backing } from '../../controller/store/open.js';

async function leading(b: Backing): Promise<void> {
  if (b.leadership.isLeader()) return;
  await new Promise<void>((resolve) => {
    const off = b.leadership.onChange((l) => l && (off(), resolve()));
  });
}

// The rollout runner over the etcd store, with the leader deposed in the middle (its election
// key gone behind its back, as when its lease expired while it was stalled): its next dispatch
// is refused by etcd, its runner stops, and the new leader's runner finishes from the journal.
// The simulated fleet (test/helpers/rollout-fleet.ts) stands in for agents and records any
// apply sent to a node that already had that generation.
test('failover: a deposed leader\'s runner stops at its next dispatch; the new leader resumes; no node applied twice', async (t) => {
  const etcd = await startTestEtcd(t);
  const prefix = `/t-${randomBytes(4).toString('hex')}/`;
  const open = async (id: string) => {
    const b = await openBacking('/x', { url: `etcd://${etcd.hostPorts[0]}`, caFile: etcd.files.ca, certFile: etcd.files.cert, keyFile: etcd.files.key, prefix, leaseTtlS: 3 }, { id }, () => undefined);
    t.after(() => b.close());
    return b;
  };
  const a = await open('a');
  await leading(a);
  const b = await open('b');
  const fleet = new SimFleet(new FakeClock());
  for (let i = 1; i <= 4; i++) fleet.add(`w${i}`, ['worker']);
  await fleet.seed(a.store);
  const runner = (x: Backing) => new RolloutRunner({ store: x.store, dispatcher: fleet, health: fleet, clock: fleet.clock });

  const store = a.store as EtcdStore;
  let deposed = false;
  fleet.onDispatch = async (req) => {
    if (req.node !== 'w2' || deposed) return;
    deposed = true;
    // Still leading as far as A knows: its fence stays, its election key does not.
    const fence = store.currentFence()!;
    store.setFence(() => fence);
    await store.ns.delete().key(fence.key).exec();
  };
  await assert.rejects(runner(a).start({ specHash: 'h', nodes: fleet.plans('v2'), options: { batch: '1', soakMs: { worker: 0 }, pollMs: 100 } }), { code: 'STORE_FENCED' });
  assert.deepEqual(fleet.applies().map((c) => c.node), ['w1', 'w2'], 'A stopped before dispatching w3');
  const [r] = await b.store.rollouts(1);
  assert.equal(r.state, 'running', 'left running for the new leader');

  await leading(b);
  const done = await runner(b).resume(r.id);
  assert.equal(done.state, 'done');
  assert.deepEqual(fleet.applies().map((c) => c.node), ['w1', 'w2', 'w3', 'w4'], 'each node applied once');
  assert.deepEqual(fleet.doubles, []);
  const entries = await b.store.entries(r.id);
  for (const n of ['w1', 'w2', 'w3', 'w4']) assert.equal(entries.filter((e) => e.node === n && e.step === 'dispatched').length, 1, n);
});
