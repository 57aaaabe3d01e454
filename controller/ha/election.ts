import type { Lease } from 'etcd3';
import { DEFAULT_LEASE_TTL_S, type EtcdStore, type Fence } from '../store/etcd.js';
import type { LeaderInfo, Leadership } from './leadership.js';

// Leader election on an etcd lease, as etcd's own concurrency.Election does it: each candidate
// puts election/leader/<lease id> on its lease; the key with the lowest create revision leads.
// A candidate waits for every older key to be deleted, then leads until its lease ends: a clean
// stop revokes it (the next candidate leads at once), a killed process's lease expires after
// the TTL. While leading, the store's dispatch writes compare this key (the fence).

export const ELECTION_PREFIX = 'election/leader/';

export interface ElectionOptions {
  self: { id: string; url?: string };
  // Seconds; etcd's lease granularity.
  ttlS?: number;
  // Wait before campaigning again after losing leadership or an etcd error.
  retryMs?: number;
  log?: (msg: string) => void;
}

interface Candidate {
  lease: Lease;
  key: string;
  createRevision?: string;
}

export class EtcdLeadership implements Leadership {
  private readonly ttlS: number;
  private readonly listeners = new Set<(leader: boolean) => void>();
  private leading?: { fence: Fence; sinceMs: number };
  private candidate?: Candidate;
  private closed = false;
  private lastKeepAliveMs = 0;
  private readonly watchdog: NodeJS.Timeout;
  private cancelWait?: () => void;
  private campaigning?: Promise<void>;

  constructor(private readonly store: EtcdStore, private readonly options: ElectionOptions) {
    this.ttlS = options.ttlS ?? DEFAULT_LEASE_TTL_S;
    if (!Number.isInteger(this.ttlS) || this.ttlS < 2) throw new RangeError(`--lease-ttl ${this.ttlS}: give whole seconds, at least 2`);
    store.setFence(() => this.leading?.fence);
    // Keep-alives go every TTL/3: two missed in a row and this process stops leading, a third
    // of the TTL before etcd could let another candidate lead.
    this.watchdog = setInterval(() => {
      if (this.leading && Date.now() - this.lastKeepAliveMs > (this.ttlS * 1000 * 2) / 3) this.stepDown('the lease keep-alive failed');
    }, Math.max(100, (this.ttlS * 1000) / 12));
    this.watchdog.unref();
  }

  // Starts campaigning; resolves once the campaign key is written (not when elected).
  start(): Promise<void> {
    return this.campaign();
  }

  isLeader(): boolean {
    return this.leading !== undefined;
  }

  onChange(fn: (leader: boolean) => void): () => void {
    this.listeners.add(fn);
    if (this.leading) queueMicrotask(() => this.listeners.has(fn) && this.leading && fn(true));
    return () => this.listeners.delete(fn);
  }

  async leader(): Promise<LeaderInfo | undefined> {
    const res = await this.store.call(() => this.store.ns.getAll().prefix(ELECTION_PREFIX).sort('Create', 'Ascend').limit(1).exec());
    const kv = res.kvs[0];
    if (!kv) return undefined;
    try {
      return JSON.parse(kv.value.toString()) as LeaderInfo;
    } catch {
      return { id: kv.key.toString().slice(ELECTION_PREFIX.length), sinceMs: 0 };
    }
  }

  // Resigns: the lease is revoked, so the key goes and the next candidate leads at once.
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    if (this.leading) this.setLeading(undefined);
    this.cancelWait?.();
    await this.campaigning?.catch(() => undefined);
    await this.dropCandidate();
  }

  private campaign(): Promise<void> {
    const written = new Promise<void>((resolve, reject) => {
      this.campaigning = this.run(resolve).catch(async (err: unknown) => {
        reject(err as Error);
        if (this.closed) return;
        this.options.log?.(`leader election: ${(err as Error).message}; campaigning again`);
        this.setLeading(undefined);
        await this.dropCandidate();
        this.retry();
      });
    });
    // A caller that does not wait for start() must not see an unhandled rejection.
    written.catch(() => undefined);
    return written;
  }

  private async run(written: () => void): Promise<void> {
    const { ns } = this.store;
    const lease = ns.lease(this.ttlS);
    const id = await this.store.call(() => lease.grant());
    const c: Candidate = { lease, key: `${ELECTION_PREFIX}${id}` };
    this.candidate = c;
    this.lastKeepAliveMs = Date.now();
    lease.on('keepaliveSucceeded', () => (this.lastKeepAliveMs = Date.now()));
    lease.on('lost', () => {
      if (this.candidate === c) this.stepDown('the lease was lost');
    });
    const value = (sinceMs: number) => JSON.stringify({ id: this.options.self.id, url: this.options.self.url, sinceMs });
    const put = await this.store.call(() => ns.if(c.key, 'Create', '==', 0).then(lease.put(c.key).value(value(0))).commit());
    if (!put.succeeded) throw new Error(`campaign key ${c.key} exists already`);
    c.createRevision = String(put.header.revision);
    written();
    // Wait until no key created before ours is left.
    for (;;) {
      if (this.closed || this.candidate !== c) return;
      const older = await this.store.call(() => ns.getAll().prefix(ELECTION_PREFIX).maxCreateRevision(String(BigInt(c.createRevision!) - 1n)).sort('Create', 'Descend').limit(1).exec());
      const kv = older.kvs[0];
      if (!kv) break;
      await this.waitForDelete(kv.key.toString(), older.header.revision);
    }
    if (this.closed || this.candidate !== c) return;
    const sinceMs = Date.now();
    // The leader's record says since when it leads (for GET /v1/leader and the dashboard).
    await this.store.call(() => ns.if(c.key, 'Create', '==', c.createRevision!).then(lease.put(c.key).value(value(sinceMs))).commit());
    this.setLeading({ fence: { key: c.key, createRevision: c.createRevision! }, sinceMs });
    this.options.log?.(`${this.options.self.id} leads (lease TTL ${this.ttlS} s)`);
  }

  private async waitForDelete(key: string, atRevision: string): Promise<void> {
    const watcher = await this.store.call(() => this.store.ns.watch().key(key).startRevision(String(BigInt(atRevision) + 1n)).create());
    try {
      await new Promise<void>((resolve, reject) => {
        this.cancelWait = resolve;
        watcher.on('delete', () => resolve());
        watcher.on('error', reject);
      });
    } finally {
      this.cancelWait = undefined;
      await watcher.cancel().catch(() => undefined);
    }
  }

  private stepDown(why: string): void {
    const was = this.leading !== undefined;
    this.setLeading(undefined);
    if (was) this.options.log?.(`${this.options.self.id} stepped down: ${why}`);
    this.cancelWait?.();
    void this.dropCandidate().finally(() => this.retry());
  }

  private retry(): void {
    if (this.closed) return;
    setTimeout(() => {
      if (!this.closed && !this.candidate) void this.campaign();
    }, this.options.retryMs ?? 1_000).unref();
  }

  private async dropCandidate(): Promise<void> {
    const c = this.candidate;
    this.candidate = undefined;
    if (c) await c.lease.revoke().catch(() => undefined);
  }

  private setLeading(next: EtcdLeadership['leading']): void {
    const changed = (next === undefined) !== (this.leading === undefined);
    this.leading = next;
    if (!changed) return;
    for (const fn of [...this.listeners]) {
      try {
        fn(next !== undefined);
      } catch (err) {
        this.options.log?.(`leader election: a listener failed: ${(err as Error).message}`);
      }
    }
  }
}
