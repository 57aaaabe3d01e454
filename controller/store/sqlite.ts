import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { ControllerError } from '../errors.js';
import type { HistoryEntry, JournalEntry, LockHolder, OpenWait, PlanRecord, RolloutRecord, Store, WaveRecord } from './store.js';

export const DB_FILE = 'muster.db';

// Versioned schema: migration i brings the database to version i + 1, each runs once, in its
// own transaction, and is never edited once released (add a new one instead).
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE plans (
     node TEXT NOT NULL, generation INTEGER NOT NULL, revision TEXT NOT NULL, plan BLOB NOT NULL,
     created_at_ms INTEGER NOT NULL, PRIMARY KEY (node, generation)) STRICT;
   CREATE TABLE rollouts (
     id TEXT PRIMARY KEY, spec_hash TEXT NOT NULL, options TEXT NOT NULL, state TEXT NOT NULL,
     reason TEXT NOT NULL, undo_of TEXT, user TEXT NOT NULL, host TEXT NOT NULL,
     created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL, revision INTEGER NOT NULL) STRICT;
   CREATE TABLE waves (
     rollout_id TEXT NOT NULL REFERENCES rollouts(id), idx INTEGER NOT NULL, role TEXT NOT NULL,
     label TEXT NOT NULL, nodes TEXT NOT NULL, generations TEXT NOT NULL, pause_after INTEGER NOT NULL,
     PRIMARY KEY (rollout_id, idx)) STRICT;
   CREATE TABLE journal (
     rollout_id TEXT NOT NULL REFERENCES rollouts(id), seq INTEGER NOT NULL, wave INTEGER NOT NULL,
     node TEXT NOT NULL, step TEXT NOT NULL, generation INTEGER NOT NULL, detail TEXT NOT NULL,
     at_ms INTEGER NOT NULL, PRIMARY KEY (rollout_id, seq)) STRICT;`,
  `CREATE TABLE history (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, user TEXT NOT NULL, host TEXT NOT NULL,
     action TEXT NOT NULL, subject TEXT NOT NULL, node TEXT NOT NULL, result TEXT NOT NULL,
     generation_before INTEGER NOT NULL, generation_after INTEGER NOT NULL, detail TEXT NOT NULL) STRICT;
   CREATE INDEX history_node ON history (node, seq);
   CREATE INDEX journal_node ON journal (rollout_id, node);`,
  `CREATE TABLE waits (
     rollout_id TEXT NOT NULL REFERENCES rollouts(id), node TEXT NOT NULL, probe TEXT NOT NULL,
     last_error TEXT NOT NULL, since_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL,
     PRIMARY KEY (rollout_id, node)) STRICT;`,
  `CREATE TABLE locks (
     name TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL, user TEXT NOT NULL,
     since_ms INTEGER NOT NULL, purpose TEXT NOT NULL) STRICT;`,
];

export interface SqliteOptions {
  // Stop at this schema version (tests that make an old database).
  upTo?: number;
}

type Row = Record<string, SQLInputValue>;

// The embedded default: <state>/muster.db, WAL, one writer at a time (SQLite's own lock), so
// another muster process can pause a rollout while a runner works on it.
export class SqliteStore implements Store {
  readonly db: DatabaseSync;
  private pending: { op: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];

  constructor(readonly file: string, options: SqliteOptions = {}) {
    // Plans hold keys: the folder 0700, the database and its WAL 0600 before SQLite opens them.
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.chmodSync(path.dirname(file), 0o700);
    fs.closeSync(fs.openSync(file, 'a', 0o600));
    fs.chmodSync(file, 0o600);
    this.db = new DatabaseSync(file, { timeout: 5_000 });
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;');
    migrate(this.db, options.upTo ?? MIGRATIONS.length);
  }

  get schemaVersion(): number {
    return schemaVersion(this.db);
  }

  async savePlans(plans: { node: string; revision: string; plan: Uint8Array }[], atMs: number): Promise<PlanRecord[]> {
    const latest = this.db.prepare('SELECT generation, revision FROM plans WHERE node = ? ORDER BY generation DESC LIMIT 1');
    const insert = this.db.prepare('INSERT INTO plans (node, generation, revision, plan, created_at_ms) VALUES (?, ?, ?, ?, ?)');
    return this.tx(() => plans.map(({ node, revision, plan }) => {
      const last = latest.get(node) as Row | undefined;
      if (last && last.revision === revision) return { node, generation: Number(last.generation), revision, plan, createdAtMs: atMs };
      const rec: PlanRecord = { node, generation: Number(last?.generation ?? 0) + 1, revision, plan, createdAtMs: atMs };
      insert.run(node, rec.generation, revision, plan, atMs);
      return rec;
    }));
  }

  async plan(node: string, generation: number): Promise<PlanRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM plans WHERE node = ? AND generation = ?').get(node, generation) as Row | undefined;
    return row && planOf(row);
  }

  async latestPlan(node: string): Promise<PlanRecord | undefined> {
    return this.latestPlanSync(node);
  }

  async generations(node: string): Promise<Omit<PlanRecord, 'plan'>[]> {
    const rows = this.db.prepare('SELECT node, generation, revision, created_at_ms FROM plans WHERE node = ? ORDER BY generation DESC').all(node) as Row[];
    return rows.map((r) => ({ node: String(r.node), generation: Number(r.generation), revision: String(r.revision), createdAtMs: Number(r.created_at_ms) }));
  }

  async createRollout(r: Omit<RolloutRecord, 'revision' | 'updatedAtMs'>, waves: Omit<WaveRecord, 'rolloutId'>[]): Promise<RolloutRecord> {
    return this.tx(() => {
      this.db.prepare(`INSERT INTO rollouts (id, spec_hash, options, state, reason, undo_of, user, host, created_at_ms, updated_at_ms, revision)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`).run(r.id, r.specHash, JSON.stringify(r.options), r.state, r.reason, r.undoOf ?? null, r.operator.user, r.operator.host, r.createdAtMs, r.createdAtMs);
      const insert = this.db.prepare('INSERT INTO waves (rollout_id, idx, role, label, nodes, generations, pause_after) VALUES (?, ?, ?, ?, ?, ?, ?)');
      for (const w of waves) insert.run(r.id, w.index, w.role, w.label, JSON.stringify(w.nodes), JSON.stringify(w.generations), w.pauseAfter ? 1 : 0);
      return { ...r, updatedAtMs: r.createdAtMs, revision: 1 };
    });
  }

  async rollout(id: string): Promise<RolloutRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM rollouts WHERE id = ?').get(id) as Row | undefined;
    return row && rolloutOf(row);
  }

  async rolloutState(id: string): Promise<Pick<RolloutRecord, 'state' | 'reason' | 'revision' | 'updatedAtMs'> | undefined> {
    const row = this.db.prepare('SELECT state, reason, revision, updated_at_ms FROM rollouts WHERE id = ?').get(id) as Row | undefined;
    return row && { state: String(row.state) as RolloutRecord['state'], reason: String(row.reason), revision: Number(row.revision), updatedAtMs: Number(row.updated_at_ms) };
  }

  async rollouts(limit = 100): Promise<RolloutRecord[]> {
    return (this.db.prepare('SELECT * FROM rollouts ORDER BY created_at_ms DESC, rowid DESC LIMIT ?').all(limit) as Row[]).map(rolloutOf);
  }

  async waves(rolloutId: string): Promise<WaveRecord[]> {
    const rows = this.db.prepare('SELECT * FROM waves WHERE rollout_id = ? ORDER BY idx').all(rolloutId) as Row[];
    return rows.map((w) => ({
      rolloutId,
      index: Number(w.idx),
      role: String(w.role),
      label: String(w.label),
      nodes: JSON.parse(String(w.nodes)) as string[],
      generations: JSON.parse(String(w.generations)) as Record<string, number>,
      pauseAfter: Number(w.pause_after) === 1,
    }));
  }

  async updateRollout(id: string, expected: number, change: Partial<Pick<RolloutRecord, 'state' | 'reason'>>, atMs: number): Promise<RolloutRecord> {
    return this.tx(() => {
      const row = this.db.prepare('SELECT * FROM rollouts WHERE id = ?').get(id) as Row | undefined;
      if (!row) throw new ControllerError('ROLLOUT_NOT_FOUND', `no rollout ${id}`);
      const current = rolloutOf(row);
      if (current.revision !== expected) throw new ControllerError('STORE_CONFLICT', `rollout ${id} changed (revision ${current.revision}, expected ${expected}): it is ${current.state} now`);
      const next = { ...current, ...change, updatedAtMs: atMs, revision: current.revision + 1 };
      this.db.prepare('UPDATE rollouts SET state = ?, reason = ?, updated_at_ms = ?, revision = ? WHERE id = ?').run(next.state, next.reason, atMs, next.revision, id);
      return next;
    });
  }

  journal(e: Omit<JournalEntry, 'seq'>): Promise<JournalEntry> {
    return this.grouped(() => {
      const row = this.db.prepare(`INSERT INTO journal (rollout_id, seq, wave, node, step, generation, detail, at_ms)
        SELECT ?, coalesce(max(seq), 0) + 1, ?, ?, ?, ?, ?, ? FROM journal WHERE rollout_id = ? RETURNING seq`)
        .get(e.rolloutId, e.wave, e.node, e.step, e.generation, e.detail, e.atMs, e.rolloutId) as Row;
      return { ...e, seq: Number(row.seq) };
    });
  }

  async entries(rolloutId: string): Promise<JournalEntry[]> {
    const rows = this.db.prepare('SELECT * FROM journal WHERE rollout_id = ? ORDER BY seq').all(rolloutId) as Row[];
    return rows.map((r) => ({
      rolloutId,
      seq: Number(r.seq),
      wave: Number(r.wave),
      node: String(r.node),
      step: String(r.step) as JournalEntry['step'],
      generation: Number(r.generation),
      detail: String(r.detail),
      atMs: Number(r.at_ms),
    }));
  }

  setWait(w: OpenWait): Promise<void> {
    return this.grouped(() => void this.db.prepare(`INSERT INTO waits (rollout_id, node, probe, last_error, since_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (rollout_id, node) DO UPDATE SET probe = excluded.probe, last_error = excluded.last_error, since_ms = excluded.since_ms, updated_at_ms = excluded.updated_at_ms`)
      .run(w.rolloutId, w.node, w.probe, w.lastError, w.sinceMs, w.updatedAtMs));
  }

  clearWait(rolloutId: string, node: string): Promise<void> {
    return this.grouped(() => void this.db.prepare('DELETE FROM waits WHERE rollout_id = ? AND node = ?').run(rolloutId, node));
  }

  async waits(rolloutId: string): Promise<OpenWait[]> {
    const rows = this.db.prepare('SELECT * FROM waits WHERE rollout_id = ? ORDER BY since_ms, node').all(rolloutId) as Row[];
    return rows.map((r) => ({ rolloutId, node: String(r.node), probe: String(r.probe), lastError: String(r.last_error), sinceMs: Number(r.since_ms), updatedAtMs: Number(r.updated_at_ms) }));
  }

  record(e: Omit<HistoryEntry, 'seq'>): Promise<HistoryEntry> {
    return this.grouped(() => {
      const row = this.db.prepare(`INSERT INTO history (at_ms, user, host, action, subject, node, result, generation_before, generation_after, detail)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`)
        .get(e.atMs, e.operator.user, e.operator.host, e.action, e.subject, e.node, e.result, e.generationBefore, e.generationAfter, e.detail) as Row;
      return { ...e, seq: Number(row.seq) };
    });
  }

  async history(filter: { node?: string; limit?: number } = {}): Promise<HistoryEntry[]> {
    const limit = filter.limit ?? 1000;
    const rows = (filter.node
      ? this.db.prepare('SELECT * FROM history WHERE node = ? ORDER BY seq DESC LIMIT ?').all(filter.node, limit)
      : this.db.prepare('SELECT * FROM history ORDER BY seq DESC LIMIT ?').all(limit)) as Row[];
    return rows.map((r) => ({
      seq: Number(r.seq),
      atMs: Number(r.at_ms),
      operator: { user: String(r.user), host: String(r.host) },
      action: String(r.action) as HistoryEntry['action'],
      subject: String(r.subject),
      node: String(r.node),
      result: String(r.result),
      generationBefore: Number(r.generation_before),
      generationAfter: Number(r.generation_after),
      detail: String(r.detail),
    }));
  }

  async acquireLock(name: string, holder: LockHolder, isStale: (h: LockHolder) => boolean): Promise<LockHolder | undefined> {
    return this.tx(() => {
      const row = this.db.prepare('SELECT * FROM locks WHERE name = ?').get(name) as Row | undefined;
      if (row) {
        const current: LockHolder = { pid: Number(row.pid), host: String(row.host), user: String(row.user), sinceMs: Number(row.since_ms), purpose: String(row.purpose) };
        if (!isStale(current)) return current;
      }
      this.db.prepare('INSERT OR REPLACE INTO locks (name, pid, host, user, since_ms, purpose) VALUES (?, ?, ?, ?, ?, ?)')
        .run(name, holder.pid, holder.host, holder.user, holder.sinceMs, holder.purpose);
      return undefined;
    });
  }

  async releaseLock(name: string, holder: LockHolder): Promise<void> {
    this.tx(() => this.db.prepare('DELETE FROM locks WHERE name = ? AND pid = ? AND host = ?').run(name, holder.pid, holder.host));
  }

  close(): void {
    if (!this.db.isOpen) return;
    // Appends still waiting for their group commit are written, not dropped.
    if (this.pending.length) this.flush();
    this.db.close();
  }

  // Group commit: appends made in the same turn of the event loop (a batch of nodes writing
  // their step) share one transaction and one fsync. Each still resolves only once committed,
  // and each runs in its own savepoint, so one failing append does not undo the others.
  private grouped<T>(op: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ op, resolve: resolve as (v: unknown) => void, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.pending;
    if (!batch.length) return;
    this.pending = [];
    const results: { ok: boolean; value: unknown }[] = [];
    try {
      this.db.exec('BEGIN IMMEDIATE');
      for (const { op } of batch) {
        this.db.exec('SAVEPOINT op');
        try {
          results.push({ ok: true, value: op() });
          this.db.exec('RELEASE op');
        } catch (err) {
          this.db.exec('ROLLBACK TO op; RELEASE op');
          results.push({ ok: false, value: err });
        }
      }
      this.db.exec('COMMIT');
    } catch (err) {
      if (this.db.isOpen && this.db.isTransaction) this.db.exec('ROLLBACK');
      for (const p of batch) p.reject(err);
      return;
    }
    batch.forEach((p, i) => (results[i].ok ? p.resolve(results[i].value) : p.reject(results[i].value)));
  }

  private latestPlanSync(node: string): PlanRecord | undefined {
    const row = this.db.prepare('SELECT * FROM plans WHERE node = ? ORDER BY generation DESC LIMIT 1').get(node) as Row | undefined;
    return row && planOf(row);
  }

  // BEGIN IMMEDIATE takes the write lock first, so a read-then-write cannot interleave with
  // another process's write.
  private tx<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      this.db.exec('COMMIT');
      return out;
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }
}

export function openStore(stateDir: string): SqliteStore {
  return new SqliteStore(path.join(stateDir, DB_FILE));
}

function schemaVersion(db: DatabaseSync): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL) STRICT');
  const row = db.prepare('SELECT max(version) AS v FROM schema_version').get() as Row;
  return Number(row.v ?? 0);
}

function migrate(db: DatabaseSync, upTo: number): void {
  const at = schemaVersion(db);
  if (at > MIGRATIONS.length) throw new ControllerError('STORE_SCHEMA_NEWER', `the state database is at schema version ${at}; this muster knows up to ${MIGRATIONS.length}`);
  for (let v = at; v < upTo; v++) {
    db.exec('BEGIN IMMEDIATE');
    try {
      // Another process may have migrated between our read and the lock.
      if (schemaVersion(db) > v) {
        db.exec('COMMIT');
        continue;
      }
      db.exec(MIGRATIONS[v]);
      db.prepare('INSERT INTO schema_version (version, applied_at_ms) VALUES (?, ?)').run(v + 1, Date.now());
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  }
}

function planOf(r: Row): PlanRecord {
  return { node: String(r.node), generation: Number(r.generation), revision: String(r.revision), plan: new Uint8Array(r.plan as Uint8Array), createdAtMs: Number(r.created_at_ms) };
}

function rolloutOf(r: Row): RolloutRecord {
  return {
    id: String(r.id),
    specHash: String(r.spec_hash),
    options: JSON.parse(String(r.options)) as Record<string, unknown>,
    state: String(r.state) as RolloutRecord['state'],
    reason: String(r.reason),
    undoOf: r.undo_of === null ? undefined : String(r.undo_of),
    operator: { user: String(r.user), host: String(r.host) },
    createdAtMs: Number(r.created_at_ms),
    updatedAtMs: Number(r.updated_at_ms),
    revision: Number(r.revision),
  };
}
