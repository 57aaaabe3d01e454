// The Store contract: one suite every backing passes (SQLite, etcd). Each test gets a fresh
// store through `open` and may open a second one on the same data (another controller process).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Store } from '../../controller/store/store.js';

export interface ContractTarget {
  // The first store leads (may dispatch); `second` is another process on the same data.
  open(t: { after(fn: () => Promise<void> | void): void }): Promise<{ store: Store; second(): Promise<Store> }>;
}

const operator = { user: 'ops', host: 'bastion' };
const rollout = (id: string, createdAtMs = 10) => ({ id, specHash: 'h', options: { batch: '10%' }, state: 'running' as const, reason: '', operator, createdAtMs });
// Absent and undefined fields are the same record (SQLite reads undoOf back as undefined).
const norm = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;
const entry = (rolloutId: string, node: string, step: 'dispatched' | 'applied' = 'applied') => ({ rolloutId, wave: 0, node, step, generation: 1, detail: '', atMs: 1 });

export function storeContract(name: string, target: ContractTarget): void {
  test(`${name}: plans by generation; the same revision keeps its generation, a new one gets the next`, async (t) => {
    const { store: s } = await target.open(t);
    const save = async (node: string, revision: string, plan: Uint8Array, at: number) => (await s.savePlans([{ node, revision, plan }], at))[0];
    assert.equal((await save('n1', 'rev-a', Uint8Array.of(1, 2, 3), 1)).generation, 1);
    assert.equal((await save('n1', 'rev-a', Uint8Array.of(1, 2, 3), 2)).generation, 1, 'unchanged plan, same generation');
    assert.equal((await save('n1', 'rev-b', Uint8Array.of(4), 3)).generation, 2);
    assert.equal((await save('n2', 'rev-b', Uint8Array.of(4), 3)).generation, 1, 'generations count per node');
    assert.equal((await save('n1', 'rev-a', Uint8Array.of(1, 2, 3), 4)).generation, 3, 'going back to older content is a new generation');
    assert.deepEqual([...(await s.plan('n1', 1))!.plan], [1, 2, 3], 'the plan bytes are kept for undo');
    assert.equal((await s.latestPlan('n1'))?.revision, 'rev-a');
    assert.equal((await s.latestPlan('n1'))?.generation, 3);
    assert.deepEqual((await s.generations('n1')).map((g) => [g.generation, g.revision]), [[3, 'rev-a'], [2, 'rev-b'], [1, 'rev-a']]);
    assert.equal(await s.plan('n1', 9), undefined);
    assert.equal(await s.latestPlan('nobody'), undefined);
  });

  test(`${name}: savePlans of many nodes at once, one node twice, bytes intact`, async (t) => {
    const { store: s } = await target.open(t);
    const many = Array.from({ length: 130 }, (_, i) => ({ node: `w${i}`, revision: `r${i}`, plan: Uint8Array.of(i % 256, 0, 255) }));
    const saved = await s.savePlans([...many, { node: 'w0', revision: 'r0-new', plan: Uint8Array.of(9) }], 5);
    assert.equal(saved.length, 131);
    assert.ok(saved.slice(0, 130).every((r) => r.generation === 1));
    assert.equal(saved[130].generation, 2, 'the second plan of w0 in the same call is the next generation');
    assert.deepEqual([...(await s.plan('w129', 1))!.plan], [129, 0, 255]);
    assert.equal((await s.latestPlan('w0'))?.revision, 'r0-new');
  });

  test(`${name}: two processes saving plans at once never give one generation twice`, async (t) => {
    const { store: a, second } = await target.open(t);
    const b = await second();
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).savePlans([{ node: 'n1', revision: `rev-${i}`, plan: Uint8Array.of(i) }], i)));
    const gens = results.map((r) => r[0].generation).sort((x, y) => x - y);
    assert.deepEqual(gens, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual((await a.generations('n1')).map((g) => g.generation), [6, 5, 4, 3, 2, 1]);
  });

  test(`${name}: rollouts with their waves; compare-and-swap on the revision`, async (t) => {
    const { store: s, second } = await target.open(t);
    const r = await s.createRollout(rollout('r1'), [
      { index: 0, role: 'etcd', label: 'etcd e1', nodes: ['e1'], generations: { e1: 2 }, pauseAfter: false },
      { index: 1, role: 'worker', label: 'workers 1', nodes: ['w1', 'w2'], generations: { w1: 1, w2: 1 }, pauseAfter: true },
    ]);
    assert.equal(r.updatedAtMs, 10);
    assert.deepEqual(norm(await s.rollout('r1')), norm(r), 'what createRollout returns is what is stored');
    assert.deepEqual((await s.waves('r1')).map((w) => [w.rolloutId, w.index, w.nodes, w.generations, w.pauseAfter]), [
      ['r1', 0, ['e1'], { e1: 2 }, false],
      ['r1', 1, ['w1', 'w2'], { w1: 1, w2: 1 }, true],
    ]);
    // Another process (muster rollout pause) changes the same record.
    const other = await second();
    const paused = await other.updateRollout('r1', r.revision, { state: 'paused', reason: 'paused by ops' }, 20);
    assert.notEqual(paused.revision, r.revision);
    await assert.rejects(s.updateRollout('r1', r.revision, { state: 'done' }, 30), { code: 'STORE_CONFLICT', message: /paused now/ });
    assert.equal((await s.rollout('r1'))?.state, 'paused');
    assert.deepEqual(await s.rolloutState('r1'), { state: 'paused', reason: 'paused by ops', revision: paused.revision, updatedAtMs: 20 });
    assert.deepEqual(norm(await s.rollout('r1')), norm(paused));
    await assert.rejects(s.updateRollout('nope', 1, { state: 'done' }, 30), { code: 'ROLLOUT_NOT_FOUND' });
    assert.equal(await s.rollout('nope'), undefined);
    assert.equal(await s.rolloutState('nope'), undefined);
    assert.deepEqual(await s.waves('nope'), []);
  });

  test(`${name}: compare-and-swap races: of two updates from the same revision exactly one wins`, async (t) => {
    const { store: a, second } = await target.open(t);
    const b = await second();
    const r = await a.createRollout(rollout('r1'), []);
    const results = await Promise.allSettled([a.updateRollout('r1', r.revision, { state: 'paused', reason: 'a' }, 2), b.updateRollout('r1', r.revision, { state: 'aborted', reason: 'b' }, 2)]);
    assert.deepEqual(results.map((x) => x.status).sort(), ['fulfilled', 'rejected']);
    const lost = results.find((x) => x.status === 'rejected') as PromiseRejectedResult;
    assert.equal((lost.reason as { code: string }).code, 'STORE_CONFLICT');
    const won = (results.find((x) => x.status === 'fulfilled') as PromiseFulfilledResult<{ state: string }>).value;
    assert.equal((await b.rollout('r1'))?.state, won.state);
  });

  test(`${name}: rollouts newest first, with a limit`, async (t) => {
    const { store: s } = await target.open(t);
    for (const [id, at] of [['old', 1], ['new', 3], ['mid', 2]] as const) await s.createRollout(rollout(id, at), []);
    assert.deepEqual((await s.rollouts()).map((x) => x.id), ['new', 'mid', 'old']);
    assert.deepEqual((await s.rollouts(2)).map((x) => x.id), ['new', 'mid']);
  });

  test(`${name}: the journal in order, seq assigned by the store, appends in one turn all kept`, async (t) => {
    const { store: s, second } = await target.open(t);
    await s.createRollout(rollout('r1'), []);
    const first = await s.journal(entry('r1', 'e1', 'dispatched'));
    const next = await s.journal({ ...entry('r1', 'e1'), detail: '1 changed' });
    assert.deepEqual([first.seq, next.seq], [1, 2]);
    const other = await second();
    const burst = await Promise.all([...Array.from({ length: 5 }, (_, i) => s.journal(entry('r1', `w${i}`))), ...Array.from({ length: 5 }, (_, i) => other.journal(entry('r1', `x${i}`)))]);
    const seqs = burst.map((e) => e.seq).sort((x, y) => x - y);
    assert.deepEqual(seqs, [3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 'two writers never share a seq');
    const all = await other.entries('r1');
    assert.deepEqual(all.map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert.deepEqual(all.slice(0, 2).map((e) => [e.node, e.step, e.detail]), [['e1', 'dispatched', ''], ['e1', 'applied', '1 changed']]);
    assert.deepEqual(await s.entries('nope'), []);
  });

  test(`${name}: a long journal and history are read whole and in order`, async (t) => {
    const { store: s } = await target.open(t);
    await s.createRollout(rollout('r1'), []);
    await Promise.all(Array.from({ length: 1100 }, (_, i) => s.journal(entry('r1', `n${i}`))));
    const all = await s.entries('r1');
    assert.equal(all.length, 1100);
    assert.ok(all.every((e, i) => e.seq === i + 1));
    await Promise.all(Array.from({ length: 1100 }, (_, i) => s.record({ atMs: i, operator, action: 'apply', subject: 'x', node: i % 100 ? 'busy' : 'rare', result: 'ok', generationBefore: 0, generationAfter: 1, detail: '' })));
    const rare = await s.history({ node: 'rare', limit: 20 });
    assert.deepEqual(rare.map((h) => h.seq), [1001, 901, 801, 701, 601, 501, 401, 301, 201, 101, 1], 'a node filter reads back through every page');
    assert.equal((await s.history({ limit: 5000 })).length, 1100);
  });

  test(`${name}: a journal entry for a rollout that does not exist fails alone`, async (t) => {
    const { store: s } = await target.open(t);
    await s.createRollout(rollout('r1'), []);
    const results = await Promise.allSettled([s.journal(entry('r1', 'a')), s.journal(entry('no-such-rollout', 'x')), s.journal(entry('r1', 'b'))]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual((await s.entries('r1')).map((e) => [e.seq, e.node]), [[1, 'a'], [2, 'b']]);
    assert.deepEqual(await s.entries('no-such-rollout'), []);
  });

  test(`${name}: open waits are set, replaced and cleared`, async (t) => {
    const { store: s, second } = await target.open(t);
    await s.createRollout(rollout('r1'), []);
    await s.setWait({ rolloutId: 'r1', node: 'e1', probe: 'etcd', lastError: 'connection refused', sinceMs: 13, updatedAtMs: 13 });
    await s.setWait({ rolloutId: 'r1', node: 'e1', probe: 'etcd', lastError: 'raft index 10 behind', sinceMs: 13, updatedAtMs: 14 });
    await s.setWait({ rolloutId: 'r1', node: 'a0', probe: 'soak', lastError: 'passing', sinceMs: 12, updatedAtMs: 14 });
    const other = await second();
    assert.deepEqual((await other.waits('r1')).map((w) => [w.node, w.probe, w.lastError, w.sinceMs]), [['a0', 'soak', 'passing', 12], ['e1', 'etcd', 'raft index 10 behind', 13]]);
    await s.clearWait('r1', 'e1');
    await s.clearWait('r1', 'never-waited');
    assert.deepEqual((await s.waits('r1')).map((w) => w.node), ['a0']);
  });

  test(`${name}: history newest first, by node, with a limit`, async (t) => {
    const { store: s } = await target.open(t);
    const h = (atMs: number, action: 'apply' | 'rollout', node: string) => ({ atMs, operator, action, subject: node || 'r1', node, result: 'ok', generationBefore: 1, generationAfter: 2, detail: '' });
    const a = await s.record(h(1, 'apply', 'n1'));
    await s.record(h(2, 'rollout', ''));
    await Promise.all(Array.from({ length: 4 }, (_, i) => s.record(h(3 + i, 'apply', i % 2 ? 'n1' : 'n2'))));
    assert.equal(a.seq, 1);
    const all = await s.history();
    assert.deepEqual(all.map((x) => x.seq), [6, 5, 4, 3, 2, 1]);
    assert.deepEqual(all.at(-1), a);
    assert.deepEqual((await s.history({ node: 'n1' })).map((x) => x.seq), [6, 4, 1]);
    assert.deepEqual((await s.history({ node: 'n1', limit: 2 })).map((x) => x.seq), [6, 4]);
    assert.deepEqual((await s.history({ limit: 1 })).map((x) => x.seq), [6]);
    assert.deepEqual(await s.history({ node: 'nobody' }), []);
  });

  test(`${name}: the rollout lock: taken, refused to another live holder, taken over when stale, released`, async (t) => {
    const { store: s, second } = await target.open(t);
    const me = { pid: 100, host: 'c1', user: 'ops', sinceMs: 1, purpose: 'rollout r1' };
    const other = { ...me, pid: 200, purpose: 'rollout r2' };
    assert.equal(await s.acquireLock('rollout', me, () => false), undefined);
    const b = await second();
    assert.deepEqual(await b.acquireLock('rollout', other, () => false), me, 'a live holder is named');
    await b.releaseLock('rollout', other);
    assert.deepEqual(await b.acquireLock('rollout', other, () => false), me, 'releasing a lock one does not hold changes nothing');
    assert.equal(await b.acquireLock('rollout', other, (h) => h.pid === 100), undefined, 'a stale holder is replaced');
    assert.deepEqual(await s.acquireLock('rollout', me, () => false), other);
    await b.releaseLock('rollout', other);
    assert.equal(await s.acquireLock('rollout', me, () => false), undefined, 'free again once released');
  });
}
