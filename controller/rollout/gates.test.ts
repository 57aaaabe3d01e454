import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkGate, etcdLeader, failureBudget, quorumGuard } from './gates.js';
import type { NodeHealth, ProbeView } from './ports.js';

const ok: ProbeView = { healthy: true, message: 'ok', lastError: '', sinceMs: 0, details: {} };
const bad = (lastError: string): ProbeView => ({ healthy: false, message: lastError, lastError, sinceMs: 0, details: {} });
const member = (id: string, extra: Partial<NodeHealth> = {}): NodeHealth => ({
  reachable: true, generation: 2, revision: 'r', probes: { etcd: ok, 'static-pods': ok }, etcd: { memberId: id, leaderId: 'b', raftIndex: 100 },
  staticPods: { etcd: { manifestHash: 'new', runningHash: 'new' } }, ...extra,
});
const cluster = (n: number) => new Map(Array.from({ length: n }, (_, i) => [`e${i + 1}`, member(String.fromCharCode(97 + i))]));

test('gates: the quorum guard lets 3, 4 and 5 members lose one, never 1 or 2', () => {
  assert.match(quorumGuard('e1', cluster(1))!, /1 member\(s\) and needs 1 for quorum/);
  assert.match(quorumGuard('e1', cluster(2))!, /2 member\(s\) and needs 2 for quorum/);
  for (const n of [3, 4, 5]) assert.equal(quorumGuard('e1', cluster(n)), undefined, `${n} members`);
});

test('gates: the quorum guard wants every other member healthy and reachable, and says which is not', () => {
  const c = cluster(5);
  c.set('e1', member('a', { probes: { etcd: bad('changing anyway') } }));
  assert.equal(quorumGuard('e1', c), undefined, 'the member being changed may be down');
  c.set('e4', member('d', { probes: { etcd: bad('GET /health: 503') } }));
  assert.match(quorumGuard('e1', c)!, /etcd member e4 is not healthy \(GET \/health: 503\): changing e1 could lose quorum/);
  c.set('e4', { reachable: false, error: 'connect ECONNREFUSED', generation: 0, revision: '', probes: {} });
  assert.match(quorumGuard('e1', c)!, /etcd member e4 is unreachable \(connect ECONNREFUSED\)/);
});

test('gates: the leader is the member the healthy members name', () => {
  assert.deepEqual(etcdLeader(cluster(3)), { node: 'e2', raftIndex: 100 });
  assert.equal(etcdLeader(new Map()), undefined);
});

test('gates: an etcd member passes once restarted with the new manifest, healthy and near the leader\'s raft index', () => {
  const ctx = { generation: 2, leaderRaftIndex: 150, raftLag: 100 };
  assert.deepEqual(checkGate(['etcd'], member('a'), ctx), { ok: true, probe: '', error: '' });
  const old = checkGate(['etcd'], member('a', { staticPods: { etcd: { manifestHash: 'new', runningHash: 'old' } } }), ctx);
  assert.deepEqual([old.probe, old.error], ['static-pods', 'etcd: the running pod has config hash old, the manifest new: not restarted yet']);
  assert.match(checkGate(['etcd'], member('a', { staticPods: undefined }), ctx).error, /does not report the running pods' config hashes/);
  assert.match(checkGate(['etcd'], member('a'), { ...ctx, leaderRaftIndex: 500 }).error, /raft index 100 is 400 behind the leader's 500 \(bound 100\)/);
  assert.match(checkGate(['etcd'], member('a'), { ...ctx, leaderRaftIndex: undefined }).error, /no etcd leader seen/);
  assert.match(checkGate(['etcd'], member('a', { generation: 1 }), ctx).error, /applied generation 1, waiting for 2/);
  assert.equal(checkGate(['etcd'], { reachable: false, error: 'stream closed', generation: 0, revision: '', probes: {} }, ctx).error, 'stream closed');
});

test('gates: control plane on /readyz and static pods, lb on the VIP, workers on kubelet, static pods and mounts when present', () => {
  const ctx = { generation: 0, raftLag: 0 };
  const node = (probes: Record<string, ProbeView>, staticPods?: NodeHealth['staticPods']): NodeHealth => ({ reachable: true, generation: 0, revision: '', probes, staticPods });
  const pods = { 'kube-apiserver': { manifestHash: 'x', runningHash: 'x' } };
  assert.equal(checkGate(['control-plane'], node({ 'kube-apiserver': ok, 'static-pods': ok }, pods), ctx).ok, true);
  assert.deepEqual(checkGate(['control-plane'], node({ 'kube-apiserver': bad('GET /readyz: 500 [-]etcd failed'), 'static-pods': ok }, pods), ctx).probe, 'kube-apiserver');
  assert.match(checkGate(['control-plane'], node({ 'static-pods': ok }, pods), ctx).error, /reports no kube-apiserver probe/);
  assert.equal(checkGate(['lb'], node({ 'kube-apiserver-vip': ok }), ctx).ok, true);
  assert.equal(checkGate(['lb'], node({ 'kube-apiserver-vip': bad('GET https://10.0.0.100:6443/readyz: timeout') }), ctx).probe, 'kube-apiserver-vip');
  assert.equal(checkGate(['worker'], node({ kubelet: ok }), ctx).ok, true, 'no mounts or static pods: not required');
  assert.equal(checkGate(['worker'], node({ kubelet: ok, mounts: bad('not mounted: /mnt/data') }), ctx).error, 'not mounted: /mnt/data');
  assert.equal(checkGate(['worker'], node({ kubelet: ok }, { app: { manifestHash: 'n', runningHash: 'o' } }), ctx).probe, 'static-pods');
});

test('gates: the failure budget as a count or a percentage of the nodes changed', () => {
  assert.equal(failureBudget(undefined, 100), 0);
  assert.equal(failureBudget('3', 100), 3);
  assert.equal(failureBudget('10%', 25), 2);
  assert.equal(failureBudget('10%', 5), 0, 'rounds down: 10% of 5 tolerates none');
  for (const b of ['ten', '-1', '150%', '1.5']) assert.throws(() => failureBudget(b, 10), { code: 'ROLLOUT_INVALID' }, b);
});

test('gates: with no running pod seen the gate says why, in the probe\'s words (crictl missing)', () => {
  const ctx = { generation: 2, leaderRaftIndex: 100, raftLag: 100 };
  const blind = member('a', {
    probes: { etcd: ok, 'static-pods': { ...bad('1 static pod manifest(s) as planned; running pods unknown: crictl not installed (package cri-tools)') } },
    staticPods: { etcd: { manifestHash: 'new', runningHash: '' } },
  });
  const c = checkGate(['etcd'], blind, ctx);
  assert.equal(c.probe, 'static-pods');
  assert.match(c.error, /^etcd: no running pod seen for manifest new: .*crictl not installed \(package cri-tools\)/);
});
