import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DB_FILE, MIGRATIONS, SqliteStore, openStore } from './sqlite.js';
import { currentOperator } from './store.js';

function tempState(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muster-store-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'state');
}

const operator = { user: 'ops', host: 'bastion' };
const save = async (s: SqliteStore, node: string, revision: string, plan: Uint8Array, at: number) => (await s.savePlans([{ node, revision, plan }], at))[0];

test('store: plans by generation; the same revision keeps its generation, a new one gets the next', async (t) => {
  const s = openStore(tempState(t));
  t.after(() => s.close());
  const a = await save(s, 'n1', 'rev-a', Uint8Array.of(1, 2, 3), 1);
  assert.equal(a.generation, 1);
  assert.equal((await save(s, 'n1', 'rev-a', Uint8Array.of(1, 2, 3), 2)).generation, 1, 'unchanged plan, same generation');
  const b = await save(s, 'n1', 'rev-b', Uint8Array.of(4), 3);
  assert.equal(b.generation, 2);
  assert.equal((await save(s, 'n2', 'rev-b', Uint8Array.of(4), 3)).generation, 1, 'generations count per node');
  const back = await save(s, 'n1', 'rev-a', Uint8Array.of(1, 2, 3), 4);
  assert.equal(back.generation, 3, 'going back to older content is a new generation: they only grow');
  assert.deepEqual([...(await s.plan('n1', 1))!.plan], [1, 2, 3], 'the plan bytes are kept for undo');
  assert.equal((await s.latestPlan('n1'))?.revision, 'rev-a');
  assert.deepEqual((await s.generations('n1')).map((g) => [g.generation, g.revision]), [[3, 'rev-a'], [2, 'rev-b'], [1, 'rev-a']]);
  assert.equal(await s.plan('n1', 9), undefined);
});

test('store: rollouts, waves, compare-and-swap on the revision, the journal in order', async (t) => {
  const state = tempState(t);
  const s = openStore(state);
  t.after(() => s.close());
  const r = await s.createRollout({ id: 'r1', specHash: 'h', options: { batch: '10%' }, state: 'running', reason: '', operator, createdAtMs: 10 }, [
    { index: 0, role: 'etcd', label: 'etcd e1', nodes: ['e1'], generations: { e1: 2 }, pauseAfter: false },
    { index: 1, role: 'worker', label: 'workers 1', nodes: ['w1', 'w2'], generations: { w1: 1, w2: 1 }, pauseAfter: true },
  ]);
  assert.equal(r.revision, 1);
  assert.deepEqual((await s.waves('r1')).map((w) => [w.index, w.nodes, w.pauseAfter]), [[0, ['e1'], false], [1, ['w1', 'w2'], true]]);
  // A second process (another `muster rollout pause`) sees and changes the same record.
  const other = openStore(state);
  const paused = await other.updateRollout('r1', 1, { state: 'paused', reason: 'paused by ops' }, 20);
  other.close();
  assert.equal(paused.revision, 2);
  await assert.rejects(s.updateRollout('r1', 1, { state: 'done' }, 30), { code: 'STORE_CONFLICT', message: /paused now/ });
  assert.equal((await s.rollout('r1'))?.state, 'paused');
  assert.deepEqual(await s.rolloutState('r1'), { state: 'paused', reason: 'paused by ops', revision: 2, updatedAtMs: 20 });
  await assert.rejects(s.updateRollout('nope', 1, { state: 'done' }, 30), { code: 'ROLLOUT_NOT_FOUND' });

  const first = await s.journal({ rolloutId: 'r1', wave: 0, node: 'e1', step: 'dispatched', generation: 2, detail: '', atMs: 11 });
  const second = await s.journal({ rolloutId: 'r1', wave: 0, node: 'e1', step: 'applied', generation: 2, detail: '1 changed', atMs: 12 });
  assert.deepEqual([first.seq, second.seq], [1, 2]);
  assert.deepEqual((await s.entries('r1')).map((e) => e.step), ['dispatched', 'applied']);
  assert.deepEqual((await s.rollouts()).map((x) => x.id), ['r1']);

  await s.setWait({ rolloutId: 'r1', node: 'e1', probe: 'etcd', lastError: 'connection refused', sinceMs: 13, updatedAtMs: 13 });
  await s.setWait({ rolloutId: 'r1', node: 'e1', probe: 'etcd', lastError: 'raft index 10 behind', sinceMs: 13, updatedAtMs: 14 });
  assert.deepEqual((await s.waits('r1')).map((w) => [w.node, w.probe, w.lastError, w.sinceMs]), [['e1', 'etcd', 'raft index 10 behind', 13]]);
  await s.clearWait('r1', 'e1');
  assert.deepEqual(await s.waits('r1'), []);
});

test('store: history with the operator, newest first, by node', async (t) => {
  const s = openStore(tempState(t));
  t.after(() => s.close());
  const me = currentOperator();
  assert.equal(me.user, os.userInfo().username);
  assert.equal(me.host, os.hostname());
  await s.record({ atMs: 1, operator: me, action: 'apply', subject: 'n1', node: 'n1', result: 'changed', generationBefore: 1, generationAfter: 2, detail: '' });
  await s.record({ atMs: 2, operator: me, action: 'rollout', subject: 'r1', node: '', result: 'done', generationBefore: 0, generationAfter: 0, detail: '' });
  assert.deepEqual((await s.history()).map((h) => h.action), ['rollout', 'apply']);
  const n1 = await s.history({ node: 'n1' });
  assert.deepEqual(n1.map((h) => [h.action, h.generationBefore, h.generationAfter, h.operator.user]), [['apply', 1, 2, me.user]]);
});

test('store: the database holds keys: 0600 in a 0700 folder, WAL mode', async (t) => {
  const state = tempState(t);
  const s = openStore(state);
  t.after(() => s.close());
  await save(s, 'n1', 'r', Uint8Array.of(1), 1);
  assert.equal(fs.statSync(state).mode & 0o777, 0o700);
  for (const f of [DB_FILE, `${DB_FILE}-wal`]) assert.equal(fs.statSync(path.join(state, f)).mode & 0o777, 0o600, f);
  assert.equal((s.db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal');
});

test('store: an old schema migrates once, keeping its data; a newer one is refused', async (t) => {
  const state = tempState(t);
  const file = path.join(state, DB_FILE);
  const old = new SqliteStore(file, { upTo: 1 });
  assert.equal(old.schemaVersion, 1);
  await save(old, 'n1', 'r', Uint8Array.of(7), 1);
  await old.createRollout({ id: 'r1', specHash: 'h', options: {}, state: 'done', reason: '', operator, createdAtMs: 1 }, []);
  assert.throws(() => old.db.prepare('SELECT * FROM history').all(), /no such table/);
  old.close();

  const s = new SqliteStore(file);
  assert.equal(s.schemaVersion, MIGRATIONS.length);
  assert.deepEqual([...(await s.plan('n1', 1))!.plan], [7]);
  assert.equal((await s.rollout('r1'))?.state, 'done');
  await s.record({ atMs: 1, operator, action: 'plan', subject: 'all', node: '', result: 'ok', generationBefore: 0, generationAfter: 0, detail: '' });
  const applied = s.db.prepare('SELECT version FROM schema_version ORDER BY version').all().map((r) => Number(r.version));
  assert.deepEqual(applied, MIGRATIONS.map((_, i) => i + 1), 'each migration recorded once');
  s.close();

  const again = new SqliteStore(file);
  assert.equal(again.db.prepare('SELECT count(*) AS n FROM schema_version').get()!.n, MIGRATIONS.length, 'reopening runs nothing twice');
  again.db.prepare('INSERT INTO schema_version (version, applied_at_ms) VALUES (?, 0)').run(MIGRATIONS.length + 1);
  again.close();
  assert.throws(() => new SqliteStore(file), { code: 'STORE_SCHEMA_NEWER' });
});

test('store: appends in the same turn share one commit; each resolves once durable, a bad one fails alone', async (t) => {
  const state = tempState(t);
  const s = openStore(state);
  t.after(() => s.close());
  await s.createRollout({ id: 'r1', specHash: 'h', options: {}, state: 'running', reason: '', operator, createdAtMs: 1 }, []);
  const entry = (node: string, rolloutId = 'r1') => ({ rolloutId, wave: 0, node, step: 'dispatched' as const, generation: 1, detail: '', atMs: 1 });
  const results = await Promise.allSettled([s.journal(entry('a')), s.journal(entry('b')), s.journal(entry('x', 'no-such-rollout')), s.journal(entry('c'))]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
  assert.match(String((results[2] as PromiseRejectedResult).reason), /FOREIGN KEY/);
  // Another connection sees them: committed, not only in this one's cache.
  const other = openStore(state);
  assert.deepEqual((await other.entries('r1')).map((e) => [e.seq, e.node]), [[1, 'a'], [2, 'b'], [3, 'c']]);
  other.close();
});

test('store: closing writes the appends still waiting for their group commit', async (t) => {
  const state = tempState(t);
  const s = openStore(state);
  await s.createRollout({ id: 'r1', specHash: 'h', options: {}, state: 'running', reason: '', operator, createdAtMs: 1 }, []);
  const pending = s.journal({ rolloutId: 'r1', wave: 0, node: 'a', step: 'dispatched', generation: 1, detail: '', atMs: 1 });
  s.close();
  assert.equal((await pending).seq, 1);
  const again = openStore(state);
  t.after(() => again.close());
  assert.equal((await again.entries('r1')).length, 1);
});
