import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../common/atomic-write.js';
import { ControllerError } from '../errors.js';
import { FileLock, readJson } from './lock.js';

// Bootstrap tokens, shaped like kubeadm's: "<id>.<secret>", 6 and 16 characters of [a-z0-9].
// The id is public (it names the token in listings); only a hash of the secret is stored.
export const TOKEN_FORMAT = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
export const DEFAULT_TOKEN_TTL_SECONDS = 3600;

export interface TokenRecord {
  id: string;
  // sha256 of the secret, hex: 82 random bits need no slow hash.
  secretHash: string;
  // node limits the token to one node name; labels to inventory nodes carrying all of them.
  node?: string;
  labels?: Record<string, string>;
  usesLeft: number;
  createdAt: string;
  expiresAt: string;
}

// The smallest store the enrollment needs, so it can move onto the controller's database.
export interface TokenStore {
  list(): Promise<TokenRecord[]>;
  put(record: TokenRecord): Promise<void>;
  delete(id: string): Promise<boolean>;
  // update reads, changes and writes one record as one step: concurrent callers queue.
  update(id: string, change: (record: TokenRecord | undefined) => TokenRecord): Promise<TokenRecord>;
}

// All tokens in one JSON file (0600): one atomic write per change, under a lock file.
export class FileTokenStore implements TokenStore {
  private readonly file: string;
  private readonly lock: FileLock;

  constructor(dir: string) {
    this.file = path.join(dir, 'tokens.json');
    this.lock = new FileLock(path.join(dir, 'tokens.lock'));
  }

  async list(): Promise<TokenRecord[]> {
    return (await readJson<{ tokens: TokenRecord[] }>(this.file, { tokens: [] })).tokens;
  }

  put(record: TokenRecord): Promise<void> {
    return this.change((tokens) => [...tokens.filter((t) => t.id !== record.id), record]).then(() => undefined);
  }

  async delete(id: string): Promise<boolean> {
    let found = false;
    await this.change((tokens) => tokens.filter((t) => (t.id === id ? ((found = true), false) : true)));
    return found;
  }

  async update(id: string, change: (record: TokenRecord | undefined) => TokenRecord): Promise<TokenRecord> {
    let out: TokenRecord | undefined;
    await this.change((tokens) => {
      out = change(tokens.find((t) => t.id === id));
      return [...tokens.filter((t) => t.id !== id), out];
    });
    return out!;
  }

  // Changes that arrive while a write is under way go out together in the next one (a group
  // commit): a thousand joins at once cost a few writes, not a thousand, and each still sees
  // the result of the ones before it.
  private queued: { fn: (tokens: TokenRecord[]) => TokenRecord[]; done: (err?: unknown) => void }[] = [];
  private flushing = false;

  private change(fn: (tokens: TokenRecord[]) => TokenRecord[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ fn, done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.queued.length) {
      const batch = this.queued.splice(0);
      const outcomes: unknown[] = [];
      try {
        await this.lock.run(async () => {
          await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
          let tokens = await this.list();
          for (const op of batch) {
            try {
              tokens = op.fn(tokens);
              outcomes.push(undefined);
            } catch (err) {
              outcomes.push(err);
            }
          }
          const now = Date.now();
          // Expired tokens are dropped on the next change: they can never be used again.
          tokens = tokens.filter((t) => Date.parse(t.expiresAt) > now);
          await writeFileAtomic(this.file, JSON.stringify({ tokens }, null, 2) + '\n', { mode: 0o600 });
        });
        batch.forEach((op, i) => op.done(outcomes[i]));
      } catch (err) {
        for (const op of batch) op.done(err);
      }
    }
    this.flushing = false;
  }
}

export interface CreateTokenOptions {
  node?: string;
  labels?: Record<string, string>;
  ttlSeconds?: number;
  uses?: number;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const randomText = (n: number) => Array.from({ length: n }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');

// Makes a token and returns it whole: the only time the secret is seen.
export async function createToken(store: TokenStore, o: CreateTokenOptions = {}, now = Date.now()): Promise<{ token: string; record: TokenRecord }> {
  const ttl = o.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  const uses = o.uses ?? 1;
  if (!Number.isInteger(ttl) || ttl < 1) throw new ControllerError('SPEC_INVALID', `token ttl must be a whole number of seconds above 0, not ${ttl}`);
  if (!Number.isInteger(uses) || uses < 1) throw new ControllerError('SPEC_INVALID', `token uses must be a whole number above 0, not ${uses}`);
  if (o.node !== undefined && o.labels && Object.keys(o.labels).length) throw new ControllerError('SPEC_INVALID', 'a token is scoped to a node or to labels, not both');
  const id = randomText(6);
  const secret = randomText(16);
  const record: TokenRecord = {
    id,
    secretHash: hashSecret(secret),
    ...(o.node !== undefined ? { node: o.node } : {}),
    ...(o.labels && Object.keys(o.labels).length ? { labels: o.labels } : {}),
    usesLeft: uses,
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + ttl * 1000).toISOString(),
  };
  await store.put(record);
  return { token: `${id}.${secret}`, record };
}

// Token listings never show the hash.
export async function listTokens(store: TokenStore, now = Date.now()): Promise<Omit<TokenRecord, 'secretHash'>[]> {
  return (await store.list())
    .filter((t) => Date.parse(t.expiresAt) > now)
    .map(({ secretHash: _, ...rest }) => rest)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

export function deleteToken(store: TokenStore, id: string): Promise<boolean> {
  return store.delete(id.split('.')[0]);
}

// The checks of a presented token against its record; throws the reason it is refused.
export function checkToken(token: string, record: TokenRecord | undefined, now = Date.now()): TokenRecord {
  const m = TOKEN_FORMAT.exec(token);
  if (!m) throw new ControllerError('TOKEN_INVALID', 'the token is not of the form <6 characters>.<16 characters> of a-z and 0-9');
  const [, id, secret] = m;
  const given = Buffer.from(hashSecret(secret), 'hex');
  // A compare of the same length every time, so the answer's timing says nothing of the secret.
  const same = timingSafeEqual(given, record ? Buffer.from(record.secretHash, 'hex') : Buffer.alloc(given.length));
  if (!record || !same) throw new ControllerError('TOKEN_INVALID', `token ${id} is unknown or its secret is wrong`);
  if (Date.parse(record.expiresAt) <= now) throw new ControllerError('TOKEN_EXPIRED', `token ${id} expired at ${record.expiresAt}`);
  if (record.usesLeft < 1) throw new ControllerError('TOKEN_USED', `token ${id} has been used already (no uses left)`);
  return record;
}

// Checks the token's scope against the node that asks to join.
export function checkScope(record: TokenRecord, nodeName: string, nodeLabels: Record<string, string> | undefined): void {
  if (record.node !== undefined && record.node !== nodeName) {
    throw new ControllerError('TOKEN_SCOPE', `token ${record.id} is for node ${record.node}, not ${nodeName}`);
  }
  for (const [k, v] of Object.entries(record.labels ?? {})) {
    if (nodeLabels?.[k] !== v) {
      throw new ControllerError('TOKEN_SCOPE', `token ${record.id} is for nodes labelled ${k}=${v}; ${nodeName} ${nodeLabels ? `has ${k}=${nodeLabels[k] ?? '(none)'}` : 'is not in the inventory'}`);
    }
  }
}

export async function findToken(store: TokenStore, token: string): Promise<TokenRecord | undefined> {
  const id = token.split('.')[0];
  return (await store.list()).find((t) => t.id === id);
}

// Takes one use of the token, re-checking it under the store's lock: two joins racing for
// the last use cannot both win.
export function consumeToken(store: TokenStore, token: string, now = Date.now()): Promise<TokenRecord> {
  return store.update(token.split('.')[0], (record) => {
    const ok = checkToken(token, record, now);
    return { ...ok, usesLeft: ok.usesLeft - 1 };
  });
}
