// Failover of muster serve on a real etcd: a three-member etcd 3.4 cluster serving TLS that
// demands a client certificate from the fleet CA, with etcd's auth on (the controller's own
// certificate is its client certificate and its only user), two `muster serve --store
// etcd://...` processes (the built CLI), real agents on loopback (mTLS gRPC, in this process) whose engines count the applies they get,
// workers gated on a stand-in kubelet /healthz (no kubelet on this machine). A rollout is
// started through the leader; the leader is killed with -9 in the middle of it; the follower
// takes over and finishes it from the journal; no node gets an apply twice.
// Needs Debian package etcd-server.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { ApiError } from '../../controller/api/client.js';
import type { JournalEntry } from '../../controller/store/store.js';
import { startRig, until } from '../helpers/failover-rig.js';

// Long enough that a clean stop handing over at once is told apart from the lease expiring.
const LEASE_TTL_S = 5;
const WORKERS = ['w1', 'w2', 'w3', 'w4'];

test('ha failover: the leader killed with -9 mid-rollout; the follower leads within the lease TTL + 2 s and finishes; no node applied twice', async (t) => {
  const rig = await startRig(t, { workers: WORKERS.length, leaseTtlS: LEASE_TTL_S });
  t.after(() => rig.stop());
  const first = await rig.startController('a');
  await rig.leader();
  const second = await rig.startController('b');
  assert.equal((await rig.leader()).id, 'a', 'the first controller up leads');

  // A follower refuses to start work and names the leader.
  await assert.rejects(second.client.post('/v1/rollouts', { tasks: rig.tasks('one') }), (err: ApiError) => {
    assert.equal(err.code, 'NOT_LEADER');
    assert.equal(err.leader?.url, first.url);
    return true;
  });

  // Batch 1 and a 1 s soak per worker: long enough to be killed in the middle.
  const id = await rig.startRollout(first, 'one', { soakMs: { worker: 1_000 } });
  // Killed once w2 is dispatched: w1 is done, w3 and w4 are still to come.
  await until('w2 dispatched', async () => (await rig.store.entries(id)).some((e) => e.node === 'w2' && e.step === 'dispatched'));
  // The follower serves reads from the shared store while the leader drives.
  const seen = await second.client.get<{ rollout: { id: string; state: string } }>(`/v1/rollouts/${id}`);
  assert.deepEqual([seen.rollout.id, seen.rollout.state], [id, 'running']);
  const killedAt = Date.now();
  process.kill(first.pid, 'SIGKILL');
  await first.exited;
  const before = await rig.store.entries(id);
  assert.ok(!before.some((e) => e.node === 'w4'), 'killed in the middle: w4 not begun');

  const next = await rig.leader(30_000);
  const tookOverMs = Date.now() - killedAt;
  assert.equal(next.id, 'b');
  assert.ok(tookOverMs <= (LEASE_TTL_S + 2) * 1000, `the follower led ${tookOverMs} ms after the kill (goal: lease TTL ${LEASE_TTL_S} s + 2 s)`);
  assert.deepEqual((await second.client.get<{ leader?: { id: string } }>('/v1/leader')).leader?.id, 'b');

  const done = await until('the rollout done', async () => {
    const r = await rig.store.rollout(id);
    return r && r.state !== 'running' && r;
  }, 90_000);
  assert.equal(done.state, 'done', `${done.state}: ${done.reason}\n${second.log()}`);

  // Every worker got the plan exactly once: the agents' own counts and the journal agree.
  assert.deepEqual(rig.applies, Object.fromEntries(WORKERS.map((w) => [w, 1])), 'each agent applied once');
  for (const w of WORKERS) assert.equal(fs.readFileSync(path.join(rig.fleet.nodeRoot(w), 'etc/kubernetes/app.conf'), 'utf8'), 'one\n');
  const entries = await rig.store.entries(id);
  const steps = (node: string) => entries.filter((e: JournalEntry) => e.node === node).map((e) => e.step);
  for (const w of WORKERS) {
    assert.equal(steps(w).at(-1), 'healthy', `${w}: ${steps(w).join(', ')}`);
    const old = entries.filter((e) => e.node === w && e.atMs < killedAt);
    const resumed = entries.filter((e) => e.node === w && e.atMs >= killedAt && e.step === 'dispatched');
    if (old.at(-1)?.step === 'dispatched') {
      // In flight at the kill: the new leader checked it first (check mode) and journaled an
      // apply only because the check found the plan not applied: the agent's count says one.
      assert.ok(resumed.every((e) => /^apply \(resume: the check found/.test(e.detail)), `${w}: ${resumed.map((e) => e.detail).join('; ')}`);
    } else {
      assert.equal(old.filter((e) => e.step === 'dispatched').length + resumed.length, 1, `${w} dispatched once: ${steps(w).join(', ')}`);
    }
  }
  assert.deepEqual(entries.map((e) => e.seq), entries.map((_, i) => i + 1), 'one journal, seq without gaps across both leaders');

  // The history tells the whole rollout: started, every worker healthy, done.
  const history = (await rig.store.history()).filter((h) => h.subject === id);
  assert.ok(history.some((h) => h.node === '' && h.result === 'started'), 'started');
  assert.ok(history.some((h) => h.node === '' && h.result === 'done'), 'done');
  assert.deepEqual(history.filter((h) => h.result === 'healthy').map((h) => h.node).sort(), WORKERS);

  // A clean stop hands over at once (the lease is revoked), not after the TTL.
  const third = await rig.startController('c');
  const stopAt = Date.now();
  next.proc.kill('SIGTERM');
  assert.equal((await rig.leader(10_000)).id, 'c');
  const handedOverMs = Date.now() - stopAt;
  assert.ok(handedOverMs < LEASE_TTL_S * 1000, `handed over ${handedOverMs} ms after SIGTERM\n--- b\n${next.log()}\n--- c\n${third.log()}`);
  await next.exited;
  assert.equal(next.proc.exitCode, 0, next.log());
  assert.equal((await third.client.get<{ self: { leader: boolean } }>('/v1/leader')).self.leader, true);
});
