import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { storeContract } from '../../test/helpers/store-contract.js';
import { DB_FILE, MIGRATIONS, SqliteStore, openStore } from './sqlite.js';
import { currentOperator } from './store.js';

function tempState(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muster-store-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'state');
}

const operator = { user: 'ops', host: 'bastion' };
const save = async (s: SqliteStore, node: string, revision: string, plan: Uint8Array, at: number) => (await s.savePlans([{ node, revision, plan }], at))[0];

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

// The same contract the etcd store passes (test/system/etcd-store.test.ts).
storeContract('sqlite', {
  open: async (t) => {
    const state = tempState(t);
    const opened: SqliteStore[] = [];
    t.after(() => opened.forEach((s) => s.close()));
    const open = () => {
      const s = openStore(state);
      opened.push(s);
      return s;
    };
    return { store: open(), second: async () => open() };
  },
});

test('store: the operator recorded in the history is the OS user at this host', () => {
  const me = currentOperator();
  assert.equal(me.user, os.userInfo().username);
  assert.equal(me.host, os.hostname());
});
