import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'node:test';
import { dyingStore, FakeClock, SimFleet, tempStore } from '../../test/helpers/rollout-fleet.js';
import type { Store } from '../store/store.js';
import { abortRollout, pauseRollout, rolloutStatus } from './control.js';
import { RolloutRunner, type RolloutOptions } from './runner.js';

const quick: RolloutOptions = { soakMs: { etcd: 2_000, 'control-plane': 1_000, lb: 0, worker: 0 }, pollMs: 500 };

// The ten-node HA example's shape: three etcd + control-plane masters, an lb pair, workers.
function haFleet(workers = 5) {
  const clock = new FakeClock();
  const fleet = new SimFleet(clock);
  for (const m of ['m1', 'm2', 'm3']) fleet.add(m, ['etcd', 'control-plane']);
  fleet.leader = 'm2';
  fleet.add('lb1', ['lb']);
  fleet.add('lb2', ['lb']);
  for (let i = 1; i <= workers; i++) fleet.add(`w${String(i).padStart(2, '0')}`, ['worker'], { rack: `r${i % 2}` });
  return { clock, fleet };
}

function runner(store: Store, fleet: SimFleet) {
  return new RolloutRunner({ store, dispatcher: fleet, health: fleet, clock: fleet.clock });
}

test('rollout: etcd members one at a time with the leader last, then control plane, lb (VIP holder last), workers; each gated', async (t) => {
  const { store } = tempStore(t);
  const { fleet } = haFleet(4);
  await fleet.seed(store);
  const r = await runner(store, fleet).start({ specHash: 'h2', nodes: fleet.plans('v2'), options: { ...quick, batch: '2' }, vipHolder: 'lb1', operator: { user: 'ops', host: 'bastion' } });
  assert.equal(r.state, 'done', r.reason);
  assert.deepEqual(fleet.applies().map((c) => c.node), ['m1', 'm3', 'm2', 'lb2', 'lb1', 'w01', 'w02', 'w03', 'w04']);
  assert.deepEqual(fleet.overlaps, [], 'never a second etcd member in flight');
  // Each member waited for its restart (3 s) and its soak (2 s) before the next began.
  const at = Object.fromEntries(fleet.applies().map((c) => [c.node, c.at]));
  assert.ok(at.m3 - at.m1 >= 5_000 && at.m2 - at.m3 >= 5_000, JSON.stringify(at));
  assert.ok(fleet.applies().every((c) => c.generation === 2 && !c.rollback));
  const steps = (await store.entries(r.id)).filter((e) => e.node === 'm1').map((e) => e.step);
  assert.deepEqual(steps, ['dispatched', 'applied', 'gating', 'healthy']);
  const history = await store.history({ node: 'm1' });
  assert.deepEqual(history.map((h) => [h.action, h.result, h.generationBefore, h.generationAfter, h.operator.user]), [['rollout', 'healthy', 1, 2, 'ops']]);
  assert.equal((await store.history())[0].result, 'done');
});

test('rollout: nodes whose plan does not change are skipped and say so', async (t) => {
  const { store } = tempStore(t);
  const { fleet } = haFleet(3);
  const r = await runner(store, fleet).start({ specHash: 'h', nodes: fleet.plans('v2', (n) => n.name === 'w02'), options: quick });
  assert.equal(r.state, 'done');
  assert.deepEqual(fleet.applies().map((c) => c.node), ['w02']);
  const status = await rolloutStatus(store, r.id);
  assert.equal(status.nodes.find((n) => n.node === 'm1')?.step, 'skipped');
  assert.match(status.nodes.find((n) => n.node === 'm1')!.detail, /plan unchanged/);
});

test('rollout: refuses to start when an etcd member is unhealthy or quorum cannot lose one, and says why; nothing sent', async (t) => {
  const { store } = tempStore(t);
  const { fleet } = haFleet(1);
  fleet.nodes.get('m3')!.sick = { etcd: 'GET /health: 503 no leader' };
  await assert.rejects(runner(store, fleet).start({ specHash: 'h', nodes: fleet.plans('v2'), options: quick }), { code: 'ROLLOUT_REFUSED', message: /etcd member m3 is not healthy \(GET \/health: 503 no leader\)/ });
  assert.deepEqual(fleet.calls, []);
  assert.equal((await store.history())[0].result, 'refused');

  const single = new SimFleet(new FakeClock());
  single.add('e1', ['etcd']);
  await assert.rejects(runner(store, single).start({ specHash: 'h', nodes: single.plans('v2'), options: quick }), { code: 'ROLLOUT_REFUSED', message: /1 member\(s\) and needs 1 for quorum: it cannot lose e1/ });
  assert.deepEqual(single.calls, []);
});

test('rollout: a member going bad mid-rollout stops the next one: the guard pauses before it', async (t) => {
  const { store } = tempStore(t);
  const { fleet } = haFleet(0);
  fleet.onDispatch = (req) => {
    if (req.node === 'm1' && req.mode === 'apply') fleet.nodes.get('m2')!.sick = { etcd: 'disk full' };
  };
  const r = await runner(store, fleet).start({ specHash: 'h', nodes: fleet.plans('v2'), options: quick });
  assert.equal(r.state, 'paused');
  assert.match(r.reason, /quorum guard before m3: etcd member m2 is not healthy \(disk full\)/);
  assert.deepEqual(fleet.applies().map((c) => c.node), ['m1']);
});

test('rollout: an etcd failure pauses at once, whatever the budget', async (t) => {
  const { store } = tempStore(t);
  const { fleet } = haFleet(4);
  fleet.nodes.get('m1')!.failApply = 'task etcd-manifest: MANIFEST_INVALID: spec.containers[0].image: required';
  const r = await runner(store, fleet).start({ specHash: 'h', nodes: fleet.plans('v2'), options: { ...quick, maxFailed: '50%' } });
  assert.equal(r.state, 'paused');
  assert.match(r.reason, /^etcd node m1 failed: failed: task etcd-manifest: MANIFEST_INVALID/);
  assert.deepEqual(fleet.applies().map((c) => c.node), ['m1'], 'nothing after it');
});

test('rollout: the error budget is cumulative over the whole rollout; past it the rollout pauses and nothing more is dispatched', async (t) => {
  const { store } = tempStore(t);
  const { fleet } = haFleet(20);
  // One failure in the first batch, one in the second: each batch alone is within a budget of 1.
  fleet.nodes.get('w02')!.failApply = 'EXEC_FAILED: systemctl restart kubelet';
  fleet.nodes.get('w07')!.unreachable = true;
  const r = await runner(store, fleet).start({ specHash: 'h', nodes: fleet.plans('v2'), options: { ...quick, batch: '5', maxFailed: '1' } });
  assert.equal(r.state, 'paused');
  assert.match(r.reason, /error budget spent: 2 node\(s\) failed, at most 1 allowed \(w02, w07\)/);
  const workers = fleet.calls.filter((c) => c.node.startsWith('w')).map((c) => c.node);
  assert.deepEqual(workers, ['w01', 'w02', 'w03', 'w04', 'w05', 'w06', 'w07', 'w08', 'w09', 'w10'], 'the third batch is never dispatched');
  const status = await rolloutStatus(store, r.id);
  assert.deepEqual(status.failed.map((f) => f.node), ['w02', 'w07']);
  assert.match(status.failed[1].error, /unreachable: w07 .*ECONNREFUSED/);
  assert.equal(status.currentWave, status.waves.findIndex((w) => w.nodes.includes('w11')));
});

test('rollout: failures within a percentage budget let the rollout finish, as failed, naming them', async (t) => {
  const { store } = tempStore(t);
  const { fleet } = haFleet(20);
  fleet.nodes.get('w03')!.sick = { kubelet: 'GET https://127.0.0.1:10250/healthz: 500' };
  const r = await runner(store, fleet).start({ specHash: 'h', nodes: fleet.plans('v2'), options: { ...quick, batch: '25%', maxFailed: '10%', gateTimeoutMs: { worker: 5_000 } } });
  assert.equal(r.state, 'failed');
  assert.match(r.reason, /1 node\(s\) failed, within the budget of 2: w03/);
  const e = (await store.entries(r.id)).find((x) => x.node === 'w03' && x.step === 'failed')!;
  assert.match(e.detail, /gate: kubelet: no pass within 5000 ms \(worker gate timeout\): GET https:\/\/127.0.0.1:10250\/healthz: 500/);
  assert.equal(fleet.applies().length, 25);
});

test('rollout: every wait still open says which node, which probe, its last error and since when', async (t) => {
  const { store } = tempStore(t);
  const { fleet, clock } = haFleet(0);
  let seen: Awaited<ReturnType<typeof rolloutStatus>> | undefined;
  let id = '';
  const health = fleet.health.bind(fleet);
  fleet.health = async (node) => {
    if (node === 'm1' && !seen && clock.now() > fleet.applies()[0]?.at + 1_000) seen = await rolloutStatus(store, id);
    return health(node);
  };
  store.createRollout = ((orig) => async (...a: Parameters<Store['createRollout']>) => {
    id = a[0].id;
    return orig(...a);
  })(store.createRollout.bind(store));
  const r = await runner(store, fleet).start({ specHash: 'h', nodes: fleet.plans('v2'), options: quick });
  assert.equal(r.state, 'done');
  assert.ok(seen);
  assert.equal(seen.waits.length, 1);
  const w = seen.waits[0];
  assert.deepEqual([w.node, w.probe], ['m1', 'static-pods']);
  assert.match(w.lastError, /etcd: the running pod has config hash v1, the manifest v2: not restarted yet/);
  assert.equal(w.sinceMs, fleet.applies()[0].at);
  assert.equal(seen.nodes.find((n) => n.node === 'm1')?.step, 'gating');
  assert.deepEqual(await store.waits(r.id), [], 'closed once passed');
});

test('rollout: a member must reach the leader\'s raft index within the bound', async (t) => {
  const { store } = tempStore(t);
  const { fleet, clock } = haFleet(0);
  const m1 = fleet.nodes.get('m1')!;
  m1.raftIndex = 100;
  const catchUpAt = clock.now() + 20_000;
  const health = fleet.health.bind(fleet);
  fleet.health = async (node) => {
    if (clock.now() >= catchUpAt) m1.raftIndex = 4_990;
    return health(node);
  };
  const r = await runner(store, fleet).start({ specHash: 'h', nodes: fleet.plans('v2'), options: { ...quick, etcdRaftLag: 50 } });
  assert.equal(r.state, 'done');
  assert.ok(fleet.applies('m3')[0].at >= catchUpAt, 'm3 waited for m1 to catch up');
});

test('rollout: canary pauses after the first N workers until resumed', async (t) => {
  const { store } = tempStore(t);
  const { fleet } = haFleet(10);
  const run = runner(store, fleet);
  const r = await run.start({ specHash: 'h', nodes: fleet.plans('v2'), options: { ...quick, batch: '4', canary: 2 } });
  assert.equal(r.state, 'paused');
  assert.match(r.reason, /canary: 2 worker\(s\) done/);
  assert.deepEqual(fleet.applies().filter((c) => c.node.startsWith('w')).map((c) => c.node), ['w01', 'w02']);
  // A second `resume` process, from the store alone.
  const done = await runner(store, fleet).resume(r.id, { user: 'ops', host: 'laptop' });
  assert.equal(done.state, 'done');
  assert.equal(fleet.applies().filter((c) => c.node.startsWith('w')).length, 10);
  assert.deepEqual(fleet.doubles, []);
  assert.ok((await store.history()).some((h) => h.action === 'resume' && h.operator.host === 'laptop'));
});

test('rollout: canary wait goes on by itself when the canaries stay healthy, and pauses when one does not', async (t) => {
  const { store } = tempStore(t);
  const { fleet, clock } = haFleet(6);
  const r = await runner(store, fleet).start({ specHash: 'h', nodes: fleet.plans('v2'), options: { ...quick, batch: '2', canary: 1, canaryWaitMs: 60_000 } });
  assert.equal(r.state, 'done');
  const [canary, next] = fleet.applies().filter((c) => c.node.startsWith('w'));
  assert.ok(next.at - canary.at >= 60_000);

  const second = haFleet(6);
  const health = second.fleet.health.bind(second.fleet);
  let calls = 0;
  second.fleet.health = async (node) => {
    if (node === 'w01' && ++calls > 3) second.fleet.nodes.get('w01')!.sick = { kubelet: 'PLEG is not healthy' };
    return health(node);
  };
  const { store: s2 } = tempStore(t);
  const r2 = await runner(s2, second.fleet).start({ specHash: 'h', nodes: second.fleet.plans('v2'), options: { ...quick, batch: '2', canary: 1, canaryWaitMs: 60_000 } });
  assert.equal(r2.state, 'paused');
  assert.match(r2.reason, /canary: w01 unhealthy during the canary wait: kubelet: PLEG is not healthy/);
  assert.equal(second.fleet.applies().filter((c) => c.node.startsWith('w')).length, 1);
  void clock;
});

test('rollout: pause and abort from another process stop the dispatching; an aborted rollout cannot resume', async (t) => {
  const { store, reopen } = tempStore(t);
  const { fleet } = haFleet(8);
  const other = reopen();
  let id = '';
  fleet.onDispatch = async (req) => {
    if (req.node === 'w03') {
      id = (await other.rollouts())[0].id;
      await pauseRollout(other, id, 'looking at w03', { user: 'alice', host: 'desk' });
    }
  };
  const r = await runner(store, fleet).start({ specHash: 'h', nodes: fleet.plans('v2'), options: { ...quick, batch: '3' } });
  assert.equal(r.state, 'paused');
  assert.match(r.reason, /paused by alice@desk: looking at w03/);
  assert.deepEqual(fleet.applies().filter((c) => c.node.startsWith('w')).map((c) => c.node), ['w01', 'w02', 'w03'], 'the batch in flight finished, no new one began');
  await abortRollout(other, id, '');
  await assert.rejects(runner(store, fleet).resume(id), { code: 'ROLLOUT_REFUSED', message: /aborted: nothing to resume/ });
  await assert.rejects(pauseRollout(other, id, ''), { code: 'ROLLOUT_REFUSED' });
  assert.deepEqual((await store.history()).filter((h) => h.action !== 'rollout').map((h) => [h.action, h.operator.user]), [['abort', os.userInfo().username], ['pause', 'alice']]);
});

test('rollout: hooks run as real processes before and after each node, their output in the journal', async (t) => {
  const { store } = tempStore(t);
  const { fleet } = haFleet(2);
  const hooks = { before: ['sh', '-c', 'echo drain $MUSTER_NODE'], after: ['sh', '-c', 'echo uncordon $MUSTER_NODE'], timeoutMs: 5_000 };
  const r = await runner(store, fleet).start({ specHash: 'h', nodes: fleet.plans('v2', (n) => n.roles.includes('worker')), options: { ...quick, hooks } });
  assert.equal(r.state, 'done');
  const w1 = (await store.entries(r.id)).filter((e) => e.node === 'w01');
  assert.deepEqual(w1.map((e) => e.step), ['hook', 'dispatched', 'applied', 'gating', 'hook', 'healthy']);
  assert.equal(w1[0].detail, 'before: sh -c echo drain $MUSTER_NODE: ok\ndrain w01');
  assert.equal(w1[4].detail, 'after: sh -c echo uncordon $MUSTER_NODE: ok\nuncordon w01');
});

test('rollout: a failing or hanging hook fails its node, which is then not dispatched', async (t) => {
  const { store } = tempStore(t);
  const { fleet } = haFleet(2);
  const hooks = { before: ['sh', '-c', 'if [ $MUSTER_NODE = w01 ]; then echo no >&2; exit 4; fi; sleep 5'], timeoutMs: 300 };
  const r = await runner(store, fleet).start({ specHash: 'h', nodes: fleet.plans('v2', (n) => n.roles.includes('worker')), options: { ...quick, hooks, batch: '2', maxFailed: '2' } });
  assert.equal(r.state, 'failed');
  const failed = (await store.entries(r.id)).filter((e) => e.step === 'failed').map((e) => [e.node, e.detail]);
  assert.deepEqual(failed, [['w01', 'the before hook failed: exit status 4: no'], ['w02', 'the before hook failed: timed out after 300 ms']]);
  assert.deepEqual(fleet.applies(), []);
});

test('rollout: undo rolls the earlier generation back out with the same waves and gates, rollback set', async (t) => {
  const { store } = tempStore(t);
  const { fleet } = haFleet(4);
  await fleet.seed(store);
  const run = runner(store, fleet);
  const first = await run.start({ specHash: 'h2', nodes: fleet.plans('v2'), options: { ...quick, batch: '2' }, vipHolder: 'lb2' });
  assert.equal(first.state, 'done');
  fleet.calls.length = 0;
  const undo = await run.undo(first.id, { operator: { user: 'ops', host: 'b' } });
  assert.equal(undo.state, 'done', undo.reason);
  assert.equal(undo.undoOf, first.id);
  assert.deepEqual(fleet.applies().map((c) => c.node), ['m1', 'm3', 'm2', 'lb1', 'lb2', 'w01', 'w02', 'w03', 'w04']);
  assert.ok(fleet.applies().every((c) => c.rollback && c.generation === 1 && c.revision === 'v1'));
  assert.deepEqual([...fleet.nodes.values()].map((n) => n.revision), Array(9).fill('v1'));
  assert.deepEqual((await store.waves(undo.id)).map((w) => w.nodes.length), (await store.waves(first.id)).map((w) => w.nodes.length));
  const h = (await store.history({ node: 'w01' }))[0];
  assert.deepEqual([h.action, h.generationBefore, h.generationAfter], ['undo', 2, 1]);
  await assert.rejects(run.undo('nope'), { code: 'ROLLOUT_NOT_FOUND' });
});

test('rollout: a plan older than the node\'s generation is refused by the agent and counts as a failure', async (t) => {
  const { store } = tempStore(t);
  const { fleet } = haFleet(1);
  fleet.nodes.get('w01')!.generation = 7;
  await fleet.seed(store);
  const r = await runner(store, fleet).start({ specHash: 'h', nodes: fleet.plans('v2', (n) => n.name === 'w01'), options: quick });
  assert.equal(r.state, 'paused', 'the default budget is 0: the first failure pauses');
  assert.match(r.reason, /error budget spent: 1 node\(s\) failed, at most 0 allowed \(w01\)/);
  assert.match((await store.entries(r.id)).at(-1)!.detail, /STALE_GENERATION: plan generation 2 is older than generation 7/);
});

// The steps a rollout writes, each a place a controller can die: the kill test dies at every one.
async function countWrites(t: Parameters<typeof tempStore>[0]) {
  const { store } = tempStore(t);
  const { fleet } = haFleet(4);
  await fleet.seed(store);
  const counting = dyingStore(store, Number.MAX_SAFE_INTEGER);
  const r = await runner(counting, fleet).start({ specHash: 'h', nodes: fleet.plans('v2'), options: { ...quick, batch: '2', maxFailed: '1' } });
  assert.equal(r.state, 'done');
  return counting.writes;
}

test('rollout: killed at every store write, a new runner resumes from the journal: no double dispatch, never two etcd members in flight', async (t) => {
  const total = await countWrites(t);
  assert.ok(total > 40, `${total} writes`);
  for (let k = 1; k <= total; k++) {
    const { store, reopen } = tempStore(t);
    const { fleet } = haFleet(4);
    await fleet.seed(store);
    const dying = dyingStore(store, k);
    await assert.rejects(runner(dying, fleet).start({ specHash: 'h', nodes: fleet.plans('v2'), options: { ...quick, batch: '2', maxFailed: '1' } }), /killed/, `write ${k}`);
    const fresh = reopen();
    const [r] = await fresh.rollouts();
    if (!r) {
      // Killed before the rollout was recorded: nothing was dispatched, a new start begins afresh.
      assert.deepEqual(fleet.applies(), [], `write ${k}`);
      continue;
    }
    // Killed at the very last write (the history line after the state went to done): nothing to resume.
    const done = r.state === 'done' ? r : await runner(fresh, fleet).resume(r.id);
    assert.equal(done.state, 'done', `write ${k}: ${done.reason}`);
    assert.deepEqual(fleet.doubles, [], `write ${k}: no node applied twice`);
    assert.deepEqual(fleet.overlaps, [], `write ${k}: one etcd member at a time`);
    assert.ok([...fleet.nodes.values()].every((n) => n.revision === 'v2' && n.generation === 2), `write ${k}`);
    const healthy = (await fresh.entries(r.id)).filter((e) => e.step === 'healthy').map((e) => e.node);
    assert.equal(healthy.length, new Set(healthy).size, `write ${k}: each node recorded healthy once`);
    assert.equal(healthy.length, 9);
  }
});

test('rollout: killed in the middle of every apply (sent, the agent applied it, no answer), resume checks first and never applies twice', async (t) => {
  const { fleet: probe } = haFleet(4);
  const nodes = [...probe.nodes.keys()];
  for (const victim of nodes) {
    for (const appliedFirst of [true, false]) {
      const { store, reopen } = tempStore(t);
      const { fleet } = haFleet(4);
      await fleet.seed(store);
      fleet.onDispatch = async (req) => {
        if (req.node !== victim || req.mode !== 'apply' || fleet.applies(victim).length) return;
        if (appliedFirst) {
          fleet.onDispatch = undefined;
          await fleet.dispatch(req);
        }
        throw new Error('killed: the controller died waiting for the answer');
      };
      await assert.rejects(runner(store, fleet).start({ specHash: 'h', nodes: fleet.plans('v2'), options: { ...quick, batch: '2' } }), /killed/);
      fleet.onDispatch = undefined;
      const fresh = reopen();
      const [r] = await fresh.rollouts();
      const done = await runner(fresh, fleet).resume(r.id);
      assert.equal(done.state, 'done', `${victim}: ${done.reason}`);
      assert.deepEqual(fleet.doubles, [], victim);
      assert.deepEqual(fleet.overlaps, [], victim);
      const modes = fleet.calls.filter((c) => c.node === victim).map((c) => c.mode);
      assert.deepEqual(modes, appliedFirst ? ['apply', 'check'] : ['check', 'apply'], `${victim} applied first: ${appliedFirst}`);
    }
  }
});

test('rollout: malformed options are refused before anything is recorded or sent', async (t) => {
  const { store } = tempStore(t);
  const { fleet } = haFleet(2);
  const bad: [RolloutOptions, RegExp][] = [
    [{ batch: '0' }, /--batch "0"/],
    [{ maxFailed: 'lots' }, /--max-failed "lots"/],
    [{ canary: -1 }, /--canary -1/],
    [{ pollMs: 0 }, /pollMs 0/],
    [{ soakMs: { etcd: -5 } }, /soakMs.etcd -5/],
    [{ gateTimeoutMs: { database: 5 } as RolloutOptions['gateTimeoutMs'] }, /unknown role database/],
    [{ hooks: { before: [''] } }, /hooks.before/],
  ];
  for (const [options, message] of bad) {
    await assert.rejects(runner(store, fleet).start({ specHash: 'h', nodes: fleet.plans('v2'), options }), { code: 'ROLLOUT_INVALID', message }, String(message));
  }
  assert.deepEqual(await store.rollouts(), []);
  assert.deepEqual(await store.generations('m1'), [], 'no plan recorded either');
  assert.deepEqual(fleet.calls, []);
});

test('rollout: one etcd snapshot, on the first member, before it changes; journaled; a failed snapshot pauses with nothing sent', async (t) => {
  const { store } = tempStore(t);
  const { fleet } = haFleet(1);
  const taken: { node: string; applied: number }[] = [];
  const snapshots = {
    async snapshot(node: string) {
      taken.push({ node, applied: fleet.applies().length });
      return { path: `/var/lib/musterd/snapshots/x-7.db`, sizeBytes: 4096, revision: 7, sha256: 'ab'.repeat(32) };
    },
  };
  const r = await new RolloutRunner({ store, dispatcher: fleet, health: fleet, clock: fleet.clock, snapshots }).start({ specHash: 'h', nodes: fleet.plans('v2'), options: quick });
  assert.equal(r.state, 'done', r.reason);
  assert.deepEqual(taken, [{ node: 'm1', applied: 0 }], 'once, before any apply');
  const entries = await store.entries(r.id);
  assert.deepEqual(entries.slice(0, 2).map((e) => [e.node, e.step]), [['m1', 'snapshot'], ['m1', 'dispatched']]);
  assert.match(entries[0].detail, /x-7\.db, 4096 bytes, revision 7, sha256 abab/);

  // Only workers change: no etcd wave, no snapshot.
  taken.length = 0;
  await new RolloutRunner({ store, dispatcher: fleet, health: fleet, clock: fleet.clock, snapshots }).start({ specHash: 'h3', nodes: fleet.plans('v3', (n) => n.name === 'w01'), options: quick });
  assert.deepEqual(taken, []);

  const { store: other } = tempStore(t);
  const { fleet: f2 } = haFleet(1);
  const failing = { snapshot: () => Promise.reject(new Error('SNAPSHOT_FAILED: etcd https://m1:2379 Maintenance.Snapshot: bad certificate')) };
  const paused = await new RolloutRunner({ store: other, dispatcher: f2, health: f2, clock: f2.clock, snapshots: failing }).start({ specHash: 'h', nodes: f2.plans('v2'), options: quick });
  assert.equal(paused.state, 'paused');
  assert.match(paused.reason, /etcd snapshot on m1 before the first etcd member changes failed: SNAPSHOT_FAILED: .*bad certificate/);
  assert.deepEqual(f2.calls, []);
});

test('rollout: killed around the snapshot, the resumed runner takes it again only if it was not journaled; always before the first dispatch', async (t) => {
  const seen = new Set<string>();
  for (let k = 1; k <= 6; k++) {
    const { store, reopen } = tempStore(t);
    const { fleet } = haFleet(0);
    await fleet.seed(store);
    let taken = 0;
    const snapshots = { snapshot: async () => (taken++, { path: '/s.db', sizeBytes: 1, revision: 1, sha256: 'x' }) };
    const dying = dyingStore(store, k);
    await assert.rejects(new RolloutRunner({ store: dying, dispatcher: fleet, health: fleet, clock: fleet.clock, snapshots }).start({ specHash: 'h', nodes: fleet.plans('v2'), options: quick }), /killed/);
    const fresh = reopen();
    const [r] = await fresh.rollouts();
    if (!r) continue;
    const journaledBefore = (await fresh.entries(r.id)).some((e) => e.step === 'snapshot');
    const takenBefore = taken;
    const done = await new RolloutRunner({ store: fresh, dispatcher: fleet, health: fleet, clock: fleet.clock, snapshots }).resume(r.id);
    assert.equal(done.state, 'done', done.reason);
    const entries = await fresh.entries(r.id);
    assert.equal(entries.filter((e) => e.step === 'snapshot').length, 1, `write ${k}: one snapshot entry`);
    assert.ok(entries.findIndex((e) => e.step === 'snapshot') < entries.findIndex((e) => e.step === 'dispatched'), `write ${k}: the snapshot before the first dispatch`);
    assert.equal(taken, takenBefore + (journaledBefore ? 0 : 1), `write ${k}`);
    seen.add(journaledBefore ? 'journaled' : takenBefore ? 'taken, not journaled' : 'not taken');
  }
  assert.deepEqual([...seen].sort(), ['journaled', 'not taken', 'taken, not journaled'], 'every case was met');
});

test('rollout: a runner that loses the leadership stops before its next dispatch and leaves the rollout running; the new leader resumes it with nothing sent twice', async (t) => {
  const { store, reopen } = tempStore(t);
  const { fleet } = haFleet(6);
  await fleet.seed(store);
  let leading = true;
  fleet.onDispatch = async (req) => {
    if (req.node === 'w02') leading = false;
  };
  const old = new RolloutRunner({ store, dispatcher: fleet, health: fleet, clock: fleet.clock, leading: () => leading });
  const r = await old.start({ specHash: 'h', nodes: fleet.plans('v2'), options: { ...quick, batch: '2' } });
  assert.equal(r.state, 'running', 'left running for the next leader');
  const sent = fleet.applies().map((c) => c.node);
  assert.equal(sent.at(-1), 'w02', 'the batch in flight ended; nothing after it was sent');
  assert.ok(!sent.includes('w03'));
  fleet.onDispatch = undefined;
  const next = new RolloutRunner({ store: reopen(), dispatcher: fleet, health: fleet, clock: fleet.clock, leading: () => true });
  const done = await next.resume(r.id);
  assert.equal(done.state, 'done', done.reason);
  assert.deepEqual(fleet.doubles, [], 'no node applied twice');
  assert.deepEqual(fleet.applies().map((c) => c.node).filter((n) => n.startsWith('w')), ['w01', 'w02', 'w03', 'w04', 'w05', 'w06']);
});
