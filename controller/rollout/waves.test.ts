import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchSize, parseBatch, planWaves, type WaveNode } from './waves.js';

const nodes = (prefix: string, n: number, roles: string[], labels: (i: number) => Record<string, string> = () => ({})): WaveNode[] =>
  Array.from({ length: n }, (_, i) => ({ name: `${prefix}${String(i + 1).padStart(3, '0')}`, roles, labels: labels(i), changed: true }));
const shape = (p: ReturnType<typeof planWaves>) => p.waves.map((w) => `${w.role}:${w.nodes.join('+')}`);

for (const [n, leader] of [[1, 'e001'], [3, 'e002'], [5, 'e001'], [4, 'e003']] as const) {
  test(`waves: ${n} etcd members one at a time, the leader ${leader} last`, () => {
    const p = planWaves(nodes('e', n, ['etcd']), { etcdLeader: leader });
    assert.equal(p.waves.length, n);
    assert.ok(p.waves.every((w) => w.role === 'etcd' && w.nodes.length === 1));
    assert.equal(p.waves.at(-1)!.nodes[0], leader);
    assert.match(p.waves.at(-1)!.label, /leader, last/);
    assert.equal(new Set(p.waves.map((w) => w.nodes[0])).size, n, 'every member exactly once');
  });
}

test('waves: the order is etcd, control plane, lb, workers; a node with several roles only in its earliest wave', () => {
  const p = planWaves([
    { name: 'w1', roles: ['worker'], changed: true },
    { name: 'lb1', roles: ['lb'], changed: true },
    { name: 'm1', roles: ['etcd', 'control-plane'], changed: true },
    { name: 'm2', roles: ['control-plane', 'worker'], changed: true },
  ]);
  assert.deepEqual(shape(p), ['etcd:m1', 'control-plane:m2', 'lb:lb1', 'worker:w1']);
});

test('waves: an lb pair one at a time, the VIP holder last', () => {
  for (const holder of ['lb1', 'lb2']) {
    const p = planWaves(nodes('lb', 2, ['lb']).map((n, i) => ({ ...n, name: `lb${i + 1}` })), { vipHolder: holder });
    assert.deepEqual(p.waves.map((w) => w.nodes), holder === 'lb1' ? [['lb2'], ['lb1']] : [['lb1'], ['lb2']]);
  }
});

test('waves: nodes whose plan does not change are skipped and say so', () => {
  const list = nodes('w', 4, ['worker']);
  list[1].changed = false;
  const p = planWaves(list, { batch: '10' });
  assert.deepEqual(shape(p), ['worker:w001+w003+w004']);
  assert.deepEqual(p.skipped, [{ node: 'w002', reason: 'plan unchanged (worker)' }]);
});

test('waves: 200 workers in 10% batches: 10 waves of 20, each once', () => {
  const p = planWaves(nodes('w', 200, ['worker']), { batch: '10%' });
  assert.equal(p.waves.length, 10);
  assert.ok(p.waves.every((w) => w.nodes.length === 20));
  assert.equal(new Set(p.waves.flatMap((w) => w.nodes)).size, 200);
});

test('waves: a fixed batch of 5 leaves the remainder in the last wave', () => {
  const p = planWaves(nodes('w', 12, ['worker']), { batch: '5' });
  assert.deepEqual(p.waves.map((w) => w.nodes.length), [5, 5, 2]);
});

test('waves: a ramp 1,5,25% over 200 workers; the last value repeats', () => {
  const p = planWaves(nodes('w', 200, ['worker']), { batch: '1,5,25%' });
  assert.deepEqual(p.waves.map((w) => w.nodes.length), [1, 5, 50, 50, 50, 44]);
});

test('waves: percentages round down and never to 0', () => {
  assert.equal(batchSize(parseBatch('10%'), 0, 5), 1, '10% of 5 is 0.5: one at a time, never none');
  assert.equal(batchSize(parseBatch('1%'), 0, 1), 1);
  assert.equal(batchSize(parseBatch('30%'), 0, 10), 3);
  assert.equal(batchSize(parseBatch('33%'), 0, 10), 3);
  assert.equal(batchSize(parseBatch('100%'), 0, 7), 7);
  const p = planWaves(nodes('w', 3, ['worker']), { batch: '10%' });
  assert.deepEqual(p.waves.map((w) => w.nodes.length), [1, 1, 1]);
});

test('waves: bad batches are refused with what to give', () => {
  for (const bad of ['0', '0%', '', '1,,2', 'ten', '150%', '-1', '1.5']) assert.throws(() => parseBatch(bad), /--batch/, bad);
  assert.throws(() => planWaves(nodes('w', 2, ['worker']), { canary: 0 }), /--canary/);
  assert.throws(() => planWaves([{ name: 'x', roles: ['db'], changed: true }]), /unknown role db/);
  assert.throws(() => planWaves([{ name: 'x', roles: ['worker'], changed: true }, { name: 'x', roles: ['lb'], changed: true }]), /twice/);
});

test('waves: --by rack never puts two racks in one wave', () => {
  const p = planWaves(nodes('w', 30, ['worker'], (i) => ({ rack: `r${i % 3}` })), { batch: '4', by: 'rack' });
  for (const w of p.waves) {
    const racks = new Set(w.nodes.map((n) => `r${(Number(n.slice(1)) - 1) % 3}`));
    assert.equal(racks.size, 1, `${w.label}: ${w.nodes.join(',')}`);
    assert.ok(w.nodes.length <= 4);
  }
  assert.deepEqual(p.waves.map((w) => w.nodes.length), [4, 4, 2, 4, 4, 2, 4, 4, 2]);
  assert.equal(new Set(p.waves.flatMap((w) => w.nodes)).size, 30);
  assert.match(p.waves[0].label, /rack=r0/);
});

test('waves: --by rack puts workers without the label in a group of their own', () => {
  const list = nodes('w', 3, ['worker'], (i): Record<string, string> => (i === 2 ? {} : { rack: 'a' }));
  const p = planWaves(list, { batch: '10', by: 'rack' });
  assert.deepEqual(p.waves.map((w) => [w.nodes.length, w.label]), [[1, 'workers batch 1 (rack=(none))'], [2, 'workers batch 2 (rack=a)']]);
});

test('waves: --canary 3 is a wave of its own that pauses, then the batches go on', () => {
  const p = planWaves(nodes('w', 25, ['worker']), { batch: '10', canary: 3 });
  assert.deepEqual(p.waves.map((w) => [w.nodes.length, w.pauseAfter]), [[3, true], [10, false], [10, false], [2, false]]);
  assert.match(p.waves[0].label, /canary/);
});

test('waves: a canary larger than a rack spans waves and pauses after the last of them', () => {
  const p = planWaves(nodes('w', 6, ['worker'], (i) => ({ rack: i < 2 ? 'a' : 'b' })), { batch: '10', canary: 3, by: 'rack' });
  assert.deepEqual(p.waves.map((w) => [w.nodes.length, w.pauseAfter]), [[2, false], [1, true], [3, false]]);
});

test('waves: nothing changed, no waves', () => {
  const p = planWaves(nodes('e', 3, ['etcd']).map((n) => ({ ...n, changed: false })));
  assert.deepEqual(p.waves, []);
  assert.equal(p.skipped.length, 3);
});
