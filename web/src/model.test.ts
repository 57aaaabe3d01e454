import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addDrift, currentRollout, DRIFT_FEED, FleetModel, matches, mergeRollout, NO_FILTER } from './model.ts';
import type { NodeJson, RolloutRecord } from './types.ts';

function node(name: string, o: Partial<NodeJson> = {}): NodeJson {
  return {
    node: name,
    roles: ['worker'],
    address: '10.0.0.1',
    reachable: true,
    error: undefined,
    errorSince: undefined,
    appliedAt: undefined,
    status: undefined,
    labels: { rack: 'a' },
    state: 'ready',
    updatedAt: '2026-12-01T12:00:00.000Z',
    generation: 3,
    revision: 'abc',
    lastApply: 'converged',
    notReadyReason: undefined,
    probes: [{ name: 'kubelet', state: 'healthy', message: 'ok', lastError: '', since: undefined }],
    drift: { policy: 'enforce', detected: 0, repaired: 0, last: undefined },
    soonestCertificate: { path: '/etc/kubernetes/pki/kubelet.crt', subject: 'CN=w1', notAfter: undefined, daysLeft: 200 },
    ...o,
  };
}

const rollout = (id: string, state: RolloutRecord['state'], createdAtMs: number): RolloutRecord => ({ id, specHash: 'h', options: {}, state, reason: '', operator: { user: 'u', host: 'h' }, createdAtMs, updatedAtMs: createdAtMs, revision: 1 });

describe('dashboard model', () => {
  it('filters by role, label (key=value or key), state and name or address', () => {
    const m1 = node('m1', { roles: ['etcd', 'control-plane'], labels: { rack: 'b', ssd: 'yes' }, address: '10.0.9.1' });
    const w1 = node('w1');
    const down = node('w2', { state: 'unreachable', reachable: false, error: 'connect ECONNREFUSED' });
    const sick = node('w3', { state: 'not-ready', probes: [{ name: 'kubelet', state: 'failed', message: '', lastError: '503', since: undefined }] });
    const drifted = node('w4', { drift: { policy: 'enforce', detected: 2, repaired: 2, last: undefined } });
    const expiring = node('w5', { soonestCertificate: { path: '/x.crt', subject: '', notAfter: undefined, daysLeft: 12 } });
    const all = [m1, w1, down, sick, drifted, expiring];
    const names = (f: Partial<typeof NO_FILTER>) => all.filter((n) => matches(n, { ...NO_FILTER, ...f })).map((n) => n.node);
    assert.deepEqual(names({}), ['m1', 'w1', 'w2', 'w3', 'w4', 'w5']);
    assert.deepEqual(names({ role: 'etcd' }), ['m1']);
    assert.deepEqual(names({ label: 'rack=b' }), ['m1']);
    assert.deepEqual(names({ label: 'ssd' }), ['m1']);
    assert.deepEqual(names({ label: 'rack=c' }), []);
    assert.deepEqual(names({ state: 'unreachable' }), ['w2']);
    assert.deepEqual(names({ state: 'not-ready' }), ['w3']);
    assert.deepEqual(names({ state: 'probe-failing' }), ['w3']);
    assert.deepEqual(names({ state: 'drifted' }), ['w4']);
    assert.deepEqual(names({ state: 'cert-expiring' }), ['w5']);
    assert.deepEqual(names({ text: 'W3' }), ['w3']);
    assert.deepEqual(names({ text: '10.0.9' }), ['m1']);
    assert.deepEqual(names({ role: 'worker', state: 'ready', label: 'rack=a' }), ['w1', 'w4', 'w5']);
  });

  it('sorts names as people count (w2 before w10) and keeps unchanged rows the same objects', () => {
    const m = new FleetModel();
    const nodes = ['w10', 'w2', 'w1', 'm1'].map((n) => node(n));
    m.replace(nodes);
    const before = m.list();
    assert.deepEqual(before.map((n) => n.node), ['m1', 'w1', 'w2', 'w10']);
    assert.equal(m.list(), before, 'the same array until something changes');
    const changed = node('w2', { state: 'unreachable' });
    m.upsert(changed);
    const after = m.list();
    assert.notEqual(after, before);
    assert.deepEqual(after.map((n) => n.node), ['m1', 'w1', 'w2', 'w10']);
    assert.equal(after[2], changed);
    for (const i of [0, 1, 3]) assert.equal(after[i], before[i], 'an untouched node keeps its object, so its row is not rendered again');
    m.upsert(node('w3'));
    assert.deepEqual(m.list().map((n) => n.node), ['m1', 'w1', 'w2', 'w3', 'w10']);
    assert.deepEqual(m.counts(), { total: 5, ready: 4, notReady: 0, unreachable: 1, probeFailing: 0, drifted: 0 });
  });

  it('offers the roles and labels the fleet has', () => {
    const m = new FleetModel();
    m.replace([node('a', { roles: ['worker'], labels: { rack: 'r10' } }), node('b', { roles: ['etcd', 'lb'], labels: { rack: 'r2', zone: 'x' } })]);
    assert.deepEqual(m.facets(), { roles: ['etcd', 'lb', 'worker'], labels: ['rack=r2', 'rack=r10', 'zone=x'] });
  });

  it('shows the running or paused rollout first, else the newest; an event replaces its record', () => {
    assert.equal(currentRollout([]), undefined);
    assert.equal(currentRollout([rollout('new', 'done', 3), rollout('old', 'paused', 1)])?.id, 'old');
    assert.equal(currentRollout([rollout('new', 'done', 3), rollout('old', 'failed', 1)])?.id, 'new');
    const list = mergeRollout([rollout('b', 'running', 2), rollout('a', 'done', 1)], rollout('b', 'paused', 2));
    assert.deepEqual(list.map((r) => `${r.id}:${r.state}`), ['b:paused', 'a:done']);
    assert.deepEqual(mergeRollout(list, rollout('c', 'running', 5)).map((r) => r.id), ['c', 'b', 'a']);
  });

  it('keeps the newest drift first and at most a bounded number', () => {
    let feed: Parameters<typeof addDrift>[0] = [];
    for (let i = 0; i < DRIFT_FEED + 5; i++) feed = addDrift(feed, { node: `n${i}`, path: '/p', what: 'changed', repaired: true, atMs: i });
    assert.equal(feed.length, DRIFT_FEED);
    assert.equal(feed[0].node, `n${DRIFT_FEED + 4}`);
  });
});
