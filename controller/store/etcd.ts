import { Etcd3, isRecoverableError, type IOptions, type Lease, type Namespace, type PutBuilder } from 'etcd3';
import { ControllerError } from '../errors.js';
import type { HistoryEntry, JournalEntry, LockHolder, OpenWait, PlanRecord, RolloutRecord, Store, WaveRecord } from './store.js';

// The HA backing: the same Store in etcd v3, every key under one prefix (default /muster/):
//   plans/<node>/<generation>   a plan (JSON, bytes base64)      plan-latest/<node>  its newest
//   generations/<node>/<gen>    the same without the bytes (generations() reads only these)
//   rollouts/<id>               a rollout (its revision: the key's mod revision)
//   rollout-index/<ms>/<id>     rollouts by creation time, newest read first
//   waves/<id>                  its waves, written with it in one transaction
//   journal/<id>/<seq>          seq from journal-seq/<id>, bumped in the same transaction
//   waits/<id>/<node>           open waits          history/<seq>  from history-seq
//   locks/<name>                a lock, attached to this process's lease
//   election/leader/<lease>     the leader election (controller/ha/election.ts)
// Numbers in keys are zero-padded so etcd's byte order is numeric order.

export const DEFAULT_PREFIX = '/muster/';
// The TTL of this process's leases (its locks', the leader election's), seconds.
export const DEFAULT_LEASE_TTL_S = 10;
// etcd refuses transactions of more than 128 operations (--max-txn-ops): plans and appends go in
// chunks below that.
const TXN_OPS = 100;
// Range reads go a page at a time: a rollout of thousands of nodes has a long journal, and
// grpc-js takes at most 4 MiB per message.
const PAGE = 500;

export interface EtcdStoreOptions {
  endpoints: string[];
  prefix?: string;
  // PEM: the CA that signed the etcd members' certificates, this controller's client certificate.
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  // The TTL of the lease locks are attached to (seconds).
  leaseTtlS?: number;
  // Deadline of each call: a store that does not answer fails the call instead of hanging.
  callTimeoutMs?: number;
}

// Which leader key a dispatch must still hold (set by the election while this process leads).
export interface Fence {
  // Relative to the prefix.
  key: string;
  createRevision: string;
}

type Json = Record<string, unknown>;

const pad = (n: number, width = 12) => String(n).padStart(width, '0');
// Node names and ids are DNS-like, but a key must never be split by one that is not.
const seg = (s: string) => encodeURIComponent(s);

export function etcdClientOptions(o: EtcdStoreOptions): IOptions {
  const tls = o.endpoints.some((e) => e.startsWith('https://'));
  const timeout = o.callTimeoutMs ?? 5_000;
  return {
    hosts: o.endpoints,
    dialTimeout: timeout,
    credentials: tls ? { rootCertificate: o.ca ?? Buffer.alloc(0), privateKey: o.key, certChain: o.cert } : undefined,
    // Streams (watches, keep-alives) live on; a unary call that gets no answer fails.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
  };
}

export class EtcdStore implements Store {
  readonly client: Etcd3;
  readonly ns: Namespace;
  readonly prefix: string;
  private fence: () => Fence | undefined = () => undefined;
  private lockLease?: Lease;
  private leasing?: Promise<Lease>;
  private readonly journals = new Map<string, Appender<JournalEntry>>();
  private readonly historyLog: Appender<HistoryEntry>;

  constructor(readonly options: EtcdStoreOptions) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    try {
      this.client = new Etcd3(etcdClientOptions(options));
    } catch (err) {
      // grpc-js parses the PEM here: a CA, certificate or key that is not PEM fails now.
      throw new ControllerError('STORE_TLS', `etcd TLS credentials do not load: ${(err as Error).message}`);
    }
    this.ns = this.client.namespace(this.prefix);
    this.historyLog = new Appender(this, 'history-seq', (seq) => `history/${pad(seq)}`);
  }

  // The election hands its fence here: journal writes of 'dispatched' compare it in the same
  // transaction, so a deposed leader's dispatch is refused by etcd itself.
  setFence(fence: () => Fence | undefined): void {
    this.fence = fence;
  }

  currentFence(): Fence | undefined {
    return this.fence();
  }

  async savePlans(plans: { node: string; revision: string; plan: Uint8Array }[], atMs: number): Promise<PlanRecord[]> {
    const out: PlanRecord[] = [];
    // Three operations per new plan (the plan, its generation, the latest pointer).
    const chunk = Math.floor(TXN_OPS / 3);
    for (let i = 0; i < plans.length; i += chunk) out.push(...(await this.savePlanChunk(plans.slice(i, i + chunk), atMs)));
    return out;
  }

  // One transaction per chunk: each node's latest pointer is compared at the mod revision read,
  // so two controllers saving at once never give the same generation twice; a lost race retries.
  private async savePlanChunk(plans: { node: string; revision: string; plan: Uint8Array }[], atMs: number): Promise<PlanRecord[]> {
    for (;;) {
      const latest = await this.call(() => this.readMany(plans.map((p) => `plan-latest/${seg(p.node)}`)));
      const records: PlanRecord[] = [];
      let txn = this.ns.if('plan-latest/', 'Version', '>', -1);
      const puts: PutBuilder[] = [];
      const seen = new Map<string, PlanRecord>();
      const pointers = new Map<string, string>();
      for (const [i, p] of plans.entries()) {
        const kv = latest[i];
        txn = txn.and(`plan-latest/${seg(p.node)}`, 'Mod', '==', kv?.modRevision ?? 0);
        // The same node twice in one call: the second sees the first.
        const earlier = seen.get(p.node);
        const prev = earlier ?? (kv ? (JSON.parse(kv.value) as { generation: number; revision: string }) : undefined);
        if (prev && prev.revision === p.revision) {
          records.push({ node: p.node, generation: prev.generation, revision: p.revision, plan: p.plan, createdAtMs: atMs });
          continue;
        }
        const rec: PlanRecord = { node: p.node, generation: (prev?.generation ?? 0) + 1, revision: p.revision, plan: p.plan, createdAtMs: atMs };
        records.push(rec);
        seen.set(p.node, rec);
        puts.push(this.ns.put(`plans/${seg(p.node)}/${pad(rec.generation)}`).value(JSON.stringify({ revision: rec.revision, createdAtMs: atMs, plan: Buffer.from(p.plan).toString('base64') })));
        puts.push(this.ns.put(`generations/${seg(p.node)}/${pad(rec.generation)}`).value(JSON.stringify({ revision: rec.revision, createdAtMs: atMs })));
        // etcd refuses a key put twice in one transaction: the pointer once, with its last value.
        pointers.set(`plan-latest/${seg(p.node)}`, JSON.stringify({ generation: rec.generation, revision: rec.revision }));
      }
      if (!puts.length) return records;
      const res = await this.call(() => txn.then(...puts, ...[...pointers].map(([k, v]) => this.ns.put(k).value(v))).commit());
      if (res.succeeded) return records;
    }
  }

  async plan(node: string, generation: number): Promise<PlanRecord | undefined> {
    const v = await this.call(() => this.ns.get(`plans/${seg(node)}/${pad(generation)}`).string());
    return v === null ? undefined : planOf(node, generation, JSON.parse(v) as Json);
  }

  async latestPlan(node: string): Promise<PlanRecord | undefined> {
    const kvs = await this.call(() => this.ns.getAll().prefix(`plans/${seg(node)}/`).sort('Key', 'Descend').limit(1).strings());
    const [key, v] = Object.entries(kvs)[0] ?? [];
    return key === undefined ? undefined : planOf(node, Number(key.split('/').pop()), JSON.parse(v) as Json);
  }

  async generations(node: string): Promise<Omit<PlanRecord, 'plan'>[]> {
    const rows = await this.scan(`generations/${seg(node)}/`, 'Descend');
    return rows.map(({ key, value }) => {
      const v = JSON.parse(value) as Json;
      return { node, generation: Number(key.split('/').pop()), revision: String(v.revision), createdAtMs: Number(v.createdAtMs) };
    });
  }

  async createRollout(r: Omit<RolloutRecord, 'revision' | 'updatedAtMs'>, waves: Omit<WaveRecord, 'rolloutId'>[]): Promise<RolloutRecord> {
    const key = `rollouts/${seg(r.id)}`;
    const record = { ...r, updatedAtMs: r.createdAtMs };
    const res = await this.call(() =>
      this.ns.if(key, 'Create', '==', 0)
        .then(
          this.ns.put(key).value(JSON.stringify(record)),
          this.ns.put(`waves/${seg(r.id)}`).value(JSON.stringify(waves)),
          this.ns.put(`rollout-index/${pad(r.createdAtMs, 15)}/${seg(r.id)}`).value(r.id),
        )
        .commit(),
    );
    if (!res.succeeded) throw new ControllerError('STORE_CONFLICT', `rollout ${r.id} exists already`);
    const put = res.responses[0].response_put;
    return { ...record, revision: Number(put?.header.revision ?? res.header.revision) };
  }

  async rollout(id: string): Promise<RolloutRecord | undefined> {
    const kv = await this.call(() => this.readOne(`rollouts/${seg(id)}`));
    return kv && rolloutOf(kv.value, kv.modRevision);
  }

  async rolloutState(id: string): Promise<Pick<RolloutRecord, 'state' | 'reason' | 'revision' | 'updatedAtMs'> | undefined> {
    const r = await this.rollout(id);
    return r && { state: r.state, reason: r.reason, revision: r.revision, updatedAtMs: r.updatedAtMs };
  }

  async rollouts(limit = 100): Promise<RolloutRecord[]> {
    if (limit <= 0) return [];
    const ids = Object.values(await this.call(() => this.ns.getAll().prefix('rollout-index/').sort('Key', 'Descend').limit(limit).strings()));
    if (!ids.length) return [];
    const out: RolloutRecord[] = [];
    for (let i = 0; i < ids.length; i += TXN_OPS) {
      const kvs = await this.call(() => this.readMany(ids.slice(i, i + TXN_OPS).map((id) => `rollouts/${seg(id)}`)));
      for (const kv of kvs) if (kv) out.push(rolloutOf(kv.value, kv.modRevision));
    }
    return out;
  }

  async waves(rolloutId: string): Promise<WaveRecord[]> {
    const v = await this.call(() => this.ns.get(`waves/${seg(rolloutId)}`).string());
    if (v === null) return [];
    return (JSON.parse(v) as Omit<WaveRecord, 'rolloutId'>[]).map((w) => ({ ...w, rolloutId })).sort((a, b) => a.index - b.index);
  }

  // Compare-and-swap on the key's mod revision: the record's revision is exactly that.
  async updateRollout(id: string, expected: number, change: Partial<Pick<RolloutRecord, 'state' | 'reason'>>, atMs: number): Promise<RolloutRecord> {
    const key = `rollouts/${seg(id)}`;
    const kv = await this.call(() => this.readOne(key));
    if (!kv) throw new ControllerError('ROLLOUT_NOT_FOUND', `no rollout ${id}`);
    const current = rolloutOf(kv.value, kv.modRevision);
    if (current.revision !== expected) throw conflict(id, current, expected);
    const { revision: _r, ...rest } = { ...current, ...change, updatedAtMs: atMs };
    const res = await this.call(() => this.ns.if(key, 'Mod', '==', expected).then(this.ns.put(key).value(JSON.stringify(rest))).else(this.ns.get(key)).commit());
    if (!res.succeeded) {
      const now = res.responses[0].response_range?.kvs[0];
      if (!now) throw new ControllerError('ROLLOUT_NOT_FOUND', `no rollout ${id}`);
      throw conflict(id, rolloutOf(now.value.toString(), Number(now.mod_revision)), expected);
    }
    return { ...rest, revision: Number(res.header.revision) };
  }

  journal(e: Omit<JournalEntry, 'seq'>): Promise<JournalEntry> {
    let log = this.journals.get(e.rolloutId);
    if (!log) {
      const made: Appender<JournalEntry> = new Appender(this, `journal-seq/${seg(e.rolloutId)}`, (seq) => `journal/${seg(e.rolloutId)}/${pad(seq)}`, `rollouts/${seg(e.rolloutId)}`, () => {
        if (this.journals.get(e.rolloutId) === made) this.journals.delete(e.rolloutId);
      });
      log = made;
      this.journals.set(e.rolloutId, log);
    }
    const fenced = e.step === 'dispatched';
    if (fenced && !this.fence()) return Promise.reject(notLeader(e.node));
    return log.append((seq) => ({ ...e, seq }), fenced);
  }

  async entries(rolloutId: string): Promise<JournalEntry[]> {
    return (await this.scan(`journal/${seg(rolloutId)}/`, 'Ascend')).map((r) => JSON.parse(r.value) as JournalEntry);
  }

  async setWait(w: OpenWait): Promise<void> {
    await this.call(() => this.ns.put(`waits/${seg(w.rolloutId)}/${seg(w.node)}`).value(JSON.stringify(w)).exec());
  }

  async clearWait(rolloutId: string, node: string): Promise<void> {
    await this.call(() => this.ns.delete().key(`waits/${seg(rolloutId)}/${seg(node)}`).exec());
  }

  async waits(rolloutId: string): Promise<OpenWait[]> {
    return (await this.scan(`waits/${seg(rolloutId)}/`, 'Ascend')).map((r) => JSON.parse(r.value) as OpenWait).sort((a, b) => a.sinceMs - b.sinceMs || a.node.localeCompare(b.node));
  }

  record(e: Omit<HistoryEntry, 'seq'>): Promise<HistoryEntry> {
    return this.historyLog.append((seq) => ({ ...e, seq }), false);
  }

  // Newest first, a page at a time, so a node filter reads only as far back as it must.
  async history(filter: { node?: string; limit?: number } = {}): Promise<HistoryEntry[]> {
    const limit = filter.limit ?? 1000;
    const out: HistoryEntry[] = [];
    if (limit <= 0) return out;
    await this.scan('history/', 'Descend', ({ value }) => {
      const h = JSON.parse(value) as HistoryEntry;
      if (!filter.node || h.node === filter.node) out.push(h);
      return out.length < limit;
    });
    return out;
  }

  // Every key under a prefix in key order, PAGE keys per read; visit returns false to stop early.
  private async scan(prefix: string, order: 'Ascend' | 'Descend', visit?: (row: { key: string; value: string }) => boolean): Promise<{ key: string; value: string }[]> {
    const rows: { key: string; value: string }[] = [];
    // The end of a prefix range: the prefix with its last byte one higher.
    let start = prefix;
    let end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
    for (;;) {
      const res = await this.call(() => this.ns.getAll().inRange({ start, end }).sort('Key', order).limit(PAGE).exec());
      for (const kv of res.kvs) {
        const row = { key: kv.key.toString(), value: kv.value.toString() };
        rows.push(row);
        if (visit && !visit(row)) return rows;
      }
      if (res.kvs.length < PAGE) return rows;
      const last = res.kvs[res.kvs.length - 1].key.toString();
      // The next page starts just after the last key (ascending) or ends at it (descending).
      if (order === 'Ascend') start = `${last}\0`;
      else end = last;
    }
  }

  // The lock key lives on this process's lease: a holder that dies loses it when the lease
  // expires, without anyone having to judge its pid.
  async acquireLock(name: string, holder: LockHolder, isStale: (h: LockHolder) => boolean): Promise<LockHolder | undefined> {
    const key = `locks/${seg(name)}`;
    for (;;) {
      const lease = await this.lease();
      const kv = await this.call(() => this.readOne(key));
      const current = kv && (JSON.parse(kv.value) as LockHolder);
      if (current && !isStale(current)) return current;
      const res = await this.call(() => this.ns.if(key, 'Mod', '==', kv?.modRevision ?? 0).then(lease.put(key).value(JSON.stringify(holder))).commit());
      if (res.succeeded) return undefined;
    }
  }

  async releaseLock(name: string, holder: LockHolder): Promise<void> {
    const key = `locks/${seg(name)}`;
    const kv = await this.call(() => this.readOne(key));
    if (!kv) return;
    const current = JSON.parse(kv.value) as LockHolder;
    if (current.pid !== holder.pid || current.host !== holder.host) return;
    await this.call(() => this.ns.if(key, 'Mod', '==', kv.modRevision).then(this.ns.delete().key(key)).commit());
  }

  close(): void {
    void this.closeAsync();
  }

  // Closes after the lock lease is revoked (a clean stop hands its locks over at once).
  async closeAsync(): Promise<void> {
    await this.releaseLease();
    this.client.close();
  }

  // Revokes the lease the locks are on: they go at once instead of after its TTL.
  async releaseLease(): Promise<void> {
    const lease = this.lockLease;
    this.lockLease = undefined;
    if (lease) await lease.revoke().catch(() => undefined);
  }

  // One lease for all of this process's locks, granted once even when two locks are taken at once.
  private lease(): Promise<Lease> {
    if (this.lockLease && !this.lockLease.revoked()) return Promise.resolve(this.lockLease);
    this.leasing ??= (async () => {
      const lease = this.ns.lease(this.options.leaseTtlS ?? DEFAULT_LEASE_TTL_S);
      lease.on('lost', () => {
        if (this.lockLease === lease) this.lockLease = undefined;
      });
      try {
        await this.call(() => lease.grant());
        this.lockLease = lease;
        return lease;
      } finally {
        this.leasing = undefined;
      }
    })();
    return this.leasing;
  }

  async readOne(key: string): Promise<{ value: string; modRevision: number } | undefined> {
    const res = await this.ns.get(key).exec();
    const kv = res.kvs[0];
    return kv && { value: kv.value.toString(), modRevision: Number(kv.mod_revision) };
  }

  // Reads several keys at one revision (a transaction of gets).
  async readMany(keys: string[]): Promise<({ value: string; modRevision: number } | undefined)[]> {
    const res = await this.ns.if(keys[0], 'Version', '>', -1).then(...keys.map((k) => this.ns.get(k))).commit();
    return res.responses.map((r) => {
      const kv = r.response_range?.kvs[0];
      return kv && { value: kv.value.toString(), modRevision: Number(kv.mod_revision) };
    });
  }

  // Every etcd failure becomes one error a person can act on, naming the endpoints.
  async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ControllerError) throw err;
      const e = err as Error;
      const why = isRecoverableError(e) ? 'unreachable' : 'refused the call';
      throw new ControllerError('STORE_UNAVAILABLE', `etcd ${this.options.endpoints.join(',')} ${why}: ${e.message}`);
    }
  }
}

// Appends with a sequence number, group-committed: appends made in the same turn of the event
// loop go in one transaction that bumps the counter key by as many, compared at the mod
// revision read, so seq is assigned atomically even with two writers. An append marked fenced
// also compares the leader key: if this process no longer leads, that append fails alone.
class Appender<T> {
  private pending: { make: (seq: number) => T; fenced: boolean; resolve: (v: T) => void; reject: (e: unknown) => void }[] = [];
  private running = false;

  constructor(
    private readonly store: EtcdStore,
    private readonly counter: string,
    private readonly keyOf: (seq: number) => string,
    // A key that must exist (the rollout a journal entry belongs to).
    private readonly parent?: string,
    // Called when nothing is left to write (the store forgets a rollout's appender).
    private readonly onIdle?: () => void,
  ) {}

  append(make: (seq: number) => T, fenced: boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ make, fenced, resolve, reject });
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending.splice(0, TXN_OPS - 3);
      try {
        await this.commit(batch);
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.running = false;
    this.onIdle?.();
  }

  private async commit(batch: Appender<T>['pending']): Promise<void> {
    const { store } = this;
    for (;;) {
      const keys = [this.counter, ...(this.parent ? [this.parent] : [])];
      const [count, parent] = await store.call(() => store.readMany(keys));
      if (this.parent && !parent) throw new ControllerError('ROLLOUT_NOT_FOUND', `no rollout for ${this.parent.split('/').pop()}: a journal entry needs its rollout`);
      const fence = batch.some((p) => p.fenced) ? store.currentFence() : undefined;
      if (batch.some((p) => p.fenced) && !fence) {
        this.refuseFenced(batch);
        if (!batch.length) return;
        continue;
      }
      const base = count ? Number(count.value) : 0;
      const made = batch.map((p, i) => p.make(base + i + 1));
      let txn = store.ns.if(this.counter, 'Mod', '==', count?.modRevision ?? 0);
      if (this.parent) txn = txn.and(this.parent, 'Version', '>', 0);
      if (fence) txn = txn.and(fence.key, 'Create', '==', fence.createRevision);
      const res = await store.call(() =>
        txn.then(store.ns.put(this.counter).value(String(base + batch.length)), ...made.map((m, i) => store.ns.put(this.keyOf(base + i + 1)).value(JSON.stringify(m))))
          .else(...(fence ? [store.ns.get(fence.key)] : []))
          .commit(),
      );
      if (res.succeeded) {
        batch.forEach((p, i) => p.resolve(made[i]));
        return;
      }
      // Lost the counter race, or the leader key is no longer ours.
      const leaderKv = fence ? res.responses[0]?.response_range?.kvs[0] : undefined;
      if (fence && leaderKv?.create_revision !== fence.createRevision) {
        this.refuseFenced(batch);
        if (!batch.length) return;
      }
    }
  }

  // Fails the fenced appends of a batch (removing them from it), keeps the others.
  private refuseFenced(batch: Appender<T>['pending']): void {
    for (let i = batch.length - 1; i >= 0; i--) {
      if (!batch[i].fenced) continue;
      batch[i].reject(notLeader());
      batch.splice(i, 1);
    }
  }
}

function notLeader(node?: string): ControllerError {
  return new ControllerError('STORE_FENCED', `this controller no longer holds the leader key${node ? `: ${node} is not dispatched` : ''}; the new leader goes on from the journal`);
}

function conflict(id: string, current: RolloutRecord, expected: number): ControllerError {
  return new ControllerError('STORE_CONFLICT', `rollout ${id} changed (revision ${current.revision}, expected ${expected}): it is ${current.state} now`);
}

function planOf(node: string, generation: number, v: Json): PlanRecord {
  return { node, generation, revision: String(v.revision), plan: new Uint8Array(Buffer.from(String(v.plan), 'base64')), createdAtMs: Number(v.createdAtMs) };
}

function rolloutOf(value: string, modRevision: number): RolloutRecord {
  const r = JSON.parse(value) as Omit<RolloutRecord, 'revision'>;
  return { ...r, revision: modRevision };
}
