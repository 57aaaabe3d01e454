import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { z } from 'zod';
import { writeFileAtomicSync } from '../../common/atomic-write.js';

// The subset of the etcd v2 keys store that etcd's discovery client (etcd 3.4,
// etcdserver/api/v2discovery) relies on: nested keys, a global index, create-only
// writes, and long-poll watches answered from a bounded event history.

export const MIN_CLUSTER_SIZE = 1;
export const MAX_CLUSTER_SIZE = 15;
export const DEFAULT_CLUSTER_SIZE = 3;
// etcd v2 keeps the last 1000 events for waitIndex look-ups; we keep the same window.
export const HISTORY_LIMIT = 1000;

export type V2Action = 'get' | 'set' | 'create' | 'update' | 'delete';

export interface V2Node {
  key: string;
  dir?: true;
  value?: string;
  nodes?: V2Node[];
  modifiedIndex: number;
  createdIndex: number;
}

export interface V2Event {
  action: V2Action;
  node: V2Node;
  prevNode?: V2Node;
}

export interface V2Response extends V2Event {
  // The store index when the response was produced (sent as X-Etcd-Index).
  index: number;
}

// etcd v2 error codes (etcd's error package) and the HTTP status each maps to.
export const ErrorCode = {
  KeyNotFound: 100,
  TestFailed: 101,
  NotFile: 102,
  NotDir: 104,
  NodeExist: 105,
  RootReadOnly: 107,
  ValueRequired: 200,
  IndexNaN: 203,
  InvalidField: 209,
  EventIndexCleared: 401,
} as const;

const errorMessages: Record<number, string> = {
  100: 'Key not found',
  101: 'Compare failed',
  102: 'Not a file',
  104: 'Not a directory',
  105: 'Key already exists',
  107: 'Root is read only',
  200: 'Value is Required in POST form',
  203: 'The given index in POST form is not a number',
  209: 'Invalid field',
  401: 'The event in requested index is outdated and cleared',
};

const errorStatus: Record<number, number> = { 100: 404, 101: 412, 102: 403, 104: 403, 105: 412, 107: 403 };

export class EtcdError extends Error {
  readonly status: number;

  constructor(
    readonly errorCode: number,
    readonly detail: string,
    readonly index: number,
    message = errorMessages[errorCode] ?? 'Error',
  ) {
    super(message);
    this.name = 'EtcdError';
    this.status = errorStatus[errorCode] ?? 400;
  }

  // The body etcd sends for failures; the Go client decodes exactly these fields.
  toJSON(): { errorCode: number; message: string; cause: string; index: number } {
    return { errorCode: this.errorCode, message: this.message, cause: this.detail, index: this.index };
  }
}

export interface TokenInfo {
  token: string;
  size: number;
  // Member registrations, oldest first (etcd orders them by createdIndex).
  members: { id: string; value: string; createdIndex: number }[];
  createdIndex: number;
}

export interface DiscoveryStoreOptions {
  // JSON snapshot that keeps tokens across controller restarts; memory only when absent. Each
  // write appends one line to <persistPath>.log; the log is folded into the snapshot every
  // compactEvery writes, so a write costs one line, not the whole state.
  persistPath?: string;
  historyLimit?: number;
  compactEvery?: number;
  // The most tokens the store holds; creating one more is refused (tokens are dropped once used).
  maxTokens?: number;
}

export const DEFAULT_COMPACT_EVERY = 1000;
export const DEFAULT_MAX_TOKENS = 1000;

interface Entry {
  key: string;
  dir: boolean;
  value: string;
  createdIndex: number;
  modifiedIndex: number;
  children: Map<string, Entry>;
}

interface Watcher {
  key: string;
  recursive: boolean;
  sinceIndex: number;
  deliver: (event: V2Event) => void;
}

const TOKEN_RE = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
// Names that would collide with the server's own routes.
const RESERVED_TOKENS = new Set(['new', 'v2']);

const nodeSchema: z.ZodType<V2Node> = z.lazy(() =>
  z.object({
    key: z.string(),
    dir: z.literal(true).optional(),
    value: z.string().optional(),
    nodes: z.array(nodeSchema).optional(),
    modifiedIndex: z.number().int().nonnegative(),
    createdIndex: z.number().int().nonnegative(),
  }),
);

const stateSchema = z.object({
  version: z.literal(1),
  index: z.number().int().nonnegative(),
  entries: z.array(
    z.object({
      key: z.string().startsWith('/'),
      dir: z.boolean(),
      value: z.string(),
      createdIndex: z.number().int().nonnegative(),
      modifiedIndex: z.number().int().nonnegative(),
    }),
  ),
  history: z.array(z.lazy(() => eventSchema)),
});

type PersistedState = z.infer<typeof stateSchema>;

const eventSchema = z.object({
  action: z.enum(['get', 'set', 'create', 'update', 'delete']),
  node: nodeSchema,
  prevNode: nodeSchema.optional(),
});

export function isValidClusterSize(size: unknown): size is number {
  return typeof size === 'number' && Number.isInteger(size) && size >= MIN_CLUSTER_SIZE && size <= MAX_CLUSTER_SIZE;
}

export function clusterSizeError(): string {
  return `size must be an integer from ${MIN_CLUSTER_SIZE} to ${MAX_CLUSTER_SIZE}`;
}

export class DiscoveryStore {
  private root: Entry = newEntry('/', true, '', 0);
  private currentIndex = 0;
  private history: V2Event[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly persistPath: string | undefined;
  private readonly historyLimit: number;
  private readonly compactEvery: number;
  private readonly maxTokens: number;
  private logLines = 0;

  constructor(options: DiscoveryStoreOptions = {}) {
    this.persistPath = options.persistPath;
    this.historyLimit = options.historyLimit ?? HISTORY_LIMIT;
    this.compactEvery = options.compactEvery ?? DEFAULT_COMPACT_EVERY;
    this.maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS;
    if (this.persistPath) this.load(this.persistPath);
  }

  get index(): number {
    return this.currentIndex;
  }

  // Pending long polls; tests use it to prove cancelled waits are released.
  get watcherCount(): number {
    return this.watchers.size;
  }

  // Creates /<token>/_config/size like discovery.etcd.io/new does.
  createToken(size: number, token: string = randomBytes(16).toString('hex')): string {
    if (!isValidClusterSize(size)) throw new RangeError(clusterSizeError());
    if (!TOKEN_RE.test(token) || RESERVED_TOKENS.has(token)) throw new RangeError(`invalid discovery token ${JSON.stringify(token)}`);
    if (this.root.children.has(token)) throw new EtcdError(ErrorCode.NodeExist, `/${token}`, this.currentIndex);
    if (this.root.children.size >= this.maxTokens) throw new RangeError(`the discovery service holds ${this.maxTokens} tokens already; delete used ones first`);
    this.set(`/${token}/_config/size`, String(size), { prevExist: false });
    return token;
  }

  hasToken(token: string): boolean {
    return this.root.children.get(token)?.dir === true;
  }

  tokenInfo(token: string): TokenInfo | undefined {
    const dir = this.root.children.get(token);
    if (!dir?.dir) return undefined;
    const size = Number(dir.children.get('_config')?.children.get('size')?.value);
    const members = [...dir.children.values()]
      .filter((e) => !e.dir && !isHiddenName(baseName(e.key)))
      .sort((a, b) => a.createdIndex - b.createdIndex)
      .map((e) => ({ id: baseName(e.key), value: e.value, createdIndex: e.createdIndex }));
    return { token, size, members, createdIndex: dir.createdIndex };
  }

  listTokens(): TokenInfo[] {
    return [...this.root.children.keys()].map((t) => this.tokenInfo(t)).filter((t): t is TokenInfo => t !== undefined);
  }

  // Tokens must never be reused for a second cluster, so the controller drops them once bootstrapped.
  deleteToken(token: string): boolean {
    if (!this.hasToken(token)) return false;
    this.delete(`/${token}`, { recursive: true });
    return true;
  }

  get(key: string, options: { recursive?: boolean; sorted?: boolean } = {}): V2Response {
    const entry = this.lookup(key);
    return {
      action: 'get',
      node: toListing(entry, options.recursive ?? false, options.sorted ?? false),
      index: this.currentIndex,
    };
  }

  // etcd v2 PUT: prevExist=false is "create" (105 when present), true is "update" (100 when absent), unset is "set".
  set(key: string, value: string, options: { prevExist?: boolean } = {}): V2Response & { created: boolean } {
    const segments = splitKey(key);
    if (segments.length === 0) throw new EtcdError(ErrorCode.RootReadOnly, '/', this.currentIndex);
    const canonical = joinKey(segments);
    let parent = this.root;
    let depth = 0;
    for (; depth < segments.length - 1; depth++) {
      const child = parent.children.get(segments[depth]);
      if (!child) break;
      if (!child.dir) throw new EtcdError(ErrorCode.NotDir, child.key, this.currentIndex);
      parent = child;
    }
    // etcd creates missing parent directories at the same index as the key itself.
    const missingDirs = segments.slice(depth, -1);
    const name = segments[segments.length - 1];
    const existing = missingDirs.length === 0 ? parent.children.get(name) : undefined;
    if (existing?.dir) throw new EtcdError(ErrorCode.NotFile, canonical, this.currentIndex);
    if (existing && options.prevExist === false) throw new EtcdError(ErrorCode.NodeExist, canonical, this.currentIndex);
    if (!existing && options.prevExist === true) throw new EtcdError(ErrorCode.KeyNotFound, canonical, this.currentIndex);

    const index = this.currentIndex + 1;
    for (const dirName of missingDirs) {
      const dir = newEntry(joinKey([...splitKey(parent.key), dirName]), true, '', index);
      parent.children.set(dirName, dir);
      parent = dir;
    }
    const prevNode = existing ? leafNode(existing) : undefined;
    let entry: Entry;
    if (existing) {
      existing.value = value;
      existing.modifiedIndex = index;
      entry = existing;
    } else {
      entry = newEntry(canonical, false, value, index);
      parent.children.set(name, entry);
    }
    this.currentIndex = index;
    const action: V2Action = options.prevExist === false ? 'create' : options.prevExist === true ? 'update' : 'set';
    const event: V2Event = prevNode ? { action, node: leafNode(entry), prevNode } : { action, node: leafNode(entry) };
    this.commit(event);
    return { ...event, index, created: !existing };
  }

  delete(key: string, options: { recursive?: boolean } = {}): V2Response {
    const segments = splitKey(key);
    if (segments.length === 0) throw new EtcdError(ErrorCode.RootReadOnly, '/', this.currentIndex);
    const entry = this.lookup(key);
    if (entry.dir && !options.recursive) throw new EtcdError(ErrorCode.NotFile, entry.key, this.currentIndex);
    const parent = this.lookup(joinKey(segments.slice(0, -1)));
    parent.children.delete(segments[segments.length - 1]);
    const index = ++this.currentIndex;
    const prevNode: V2Node = entry.dir
      ? { key: entry.key, dir: true, modifiedIndex: entry.modifiedIndex, createdIndex: entry.createdIndex }
      : leafNode(entry);
    const node: V2Node = entry.dir
      ? { key: entry.key, dir: true, modifiedIndex: index, createdIndex: entry.createdIndex }
      : { key: entry.key, modifiedIndex: index, createdIndex: entry.createdIndex };
    const event: V2Event = { action: 'delete', node, prevNode };
    this.commit(event);
    return { ...event, index };
  }

  // Long poll: resolves with the first event at or after waitIndex (0 = the next one) for key
  // (or, when recursive, for keys below it); rejects with signal.reason when aborted.
  watch(key: string, options: { recursive?: boolean; waitIndex?: number }, signal?: AbortSignal): Promise<V2Event> {
    const recursive = options.recursive ?? false;
    const waitIndex = options.waitIndex ?? 0;
    const canonical = joinKey(splitKey(key));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (waitIndex > 0 && waitIndex <= this.currentIndex) {
      const start = this.history[0] ? indexOf(this.history[0]) : this.currentIndex + 1;
      if (waitIndex < start) {
        return Promise.reject(
          new EtcdError(
            ErrorCode.EventIndexCleared,
            `the requested history has been cleared [${start}/${waitIndex}]`,
            this.currentIndex,
          ),
        );
      }
      const hit = this.history.find((e) => indexOf(e) >= waitIndex && matches(e, canonical, recursive));
      if (hit) return Promise.resolve(hit);
    }
    const sinceIndex = Math.max(waitIndex, this.currentIndex + 1);
    return new Promise<V2Event>((resolve, reject) => {
      const onAbort = () => {
        this.watchers.delete(watcher);
        reject(signal?.reason);
      };
      const watcher: Watcher = {
        key: canonical,
        recursive,
        sinceIndex,
        deliver: (event) => {
          this.watchers.delete(watcher);
          signal?.removeEventListener('abort', onAbort);
          resolve(event);
        },
      };
      this.watchers.add(watcher);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private commit(event: V2Event): void {
    this.history.push(event);
    if (this.history.length > this.historyLimit) this.history.splice(0, this.history.length - this.historyLimit);
    // Persist before waking watchers so nobody acts on a registration a crash could forget.
    this.append(event);
    for (const w of [...this.watchers]) {
      if (indexOf(event) >= w.sinceIndex && matches(event, w.key, w.recursive)) w.deliver(event);
    }
  }

  private lookup(key: string): Entry {
    let entry = this.root;
    for (const name of splitKey(key)) {
      if (!entry.dir) throw new EtcdError(ErrorCode.NotDir, entry.key, this.currentIndex);
      const child = entry.children.get(name);
      // etcd names the first missing path component as the cause.
      if (!child) throw new EtcdError(ErrorCode.KeyNotFound, joinKey([...splitKey(entry.key), name]), this.currentIndex);
      entry = child;
    }
    return entry;
  }

  // One line per write, synced; every compactEvery lines the state goes to the snapshot at once.
  private append(event: V2Event): void {
    if (!this.persistPath) return;
    const log = `${this.persistPath}.log`;
    if (this.logLines === 0 && !fs.existsSync(this.persistPath)) this.compact();
    const fd = fs.openSync(log, 'a', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(event) + '\n');
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (++this.logLines >= this.compactEvery) this.compact();
  }

  private compact(): void {
    if (!this.persistPath) return;
    const entries: PersistedState['entries'] = [];
    const walk = (e: Entry) => {
      for (const child of e.children.values()) {
        entries.push({
          key: child.key,
          dir: child.dir,
          value: child.value,
          createdIndex: child.createdIndex,
          modifiedIndex: child.modifiedIndex,
        });
        if (child.dir) walk(child);
      }
    };
    walk(this.root);
    const state: PersistedState = { version: 1, index: this.currentIndex, entries, history: this.history };
    writeFileAtomicSync(this.persistPath, JSON.stringify(state), { mode: 0o600 });
    // The snapshot holds every logged event now; a crash before this truncate replays nothing twice (by index).
    fs.writeFileSync(`${this.persistPath}.log`, '', { mode: 0o600 });
    this.logLines = 0;
  }

  private load(file: string): void {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    // A corrupt file must stop the controller rather than silently forget live tokens.
    const state = stateSchema.parse(JSON.parse(text));
    const root = newEntry('/', true, '', 0);
    const sorted = [...state.entries].sort((a, b) => splitKey(a.key).length - splitKey(b.key).length);
    for (const e of sorted) {
      const segments = splitKey(e.key);
      let parent = root;
      for (const name of segments.slice(0, -1)) {
        const next = parent.children.get(name);
        if (!next?.dir) throw new Error(`discovery state ${file}: ${e.key} has no parent directory`);
        parent = next;
      }
      const entry = newEntry(joinKey(segments), e.dir, e.value, e.createdIndex);
      entry.modifiedIndex = e.modifiedIndex;
      parent.children.set(segments[segments.length - 1], entry);
    }
    this.root = root;
    this.currentIndex = state.index;
    this.history = state.history.slice(-this.historyLimit);
    this.replay(`${file}.log`);
  }

  // Applies the log's events the snapshot does not hold yet. A torn last line (a crash during the
  // append) is dropped: its write was never answered.
  private replay(log: string): void {
    let text: string;
    try {
      text = fs.readFileSync(log, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const lines = text.split('\n');
    for (const [i, line] of lines.entries()) {
      if (!line) continue;
      let event: V2Event;
      try {
        event = eventSchema.parse(JSON.parse(line));
      } catch (err) {
        if (i === lines.length - 1) break;
        throw new Error(`discovery log ${log} line ${i + 1}: ${(err as Error).message}`);
      }
      this.logLines++;
      if (event.node.modifiedIndex <= this.currentIndex) continue;
      this.currentIndex = event.node.modifiedIndex;
      if (event.action === 'delete') this.removeEntry(event.node.key);
      else this.putEntry(event.node);
      this.history.push(event);
    }
    if (this.history.length > this.historyLimit) this.history.splice(0, this.history.length - this.historyLimit);
  }

  private putEntry(node: V2Node): void {
    let parent = this.root;
    const segments = splitKey(node.key);
    for (const name of segments.slice(0, -1)) {
      let next = parent.children.get(name);
      if (!next) {
        next = newEntry(joinKey([...splitKey(parent.key), name]), true, '', node.createdIndex);
        parent.children.set(name, next);
      }
      parent = next;
    }
    const name = segments[segments.length - 1];
    const entry = parent.children.get(name) ?? newEntry(node.key, false, '', node.createdIndex);
    entry.value = node.value ?? '';
    entry.modifiedIndex = node.modifiedIndex;
    parent.children.set(name, entry);
  }

  private removeEntry(key: string): void {
    const segments = splitKey(key);
    let parent: Entry | undefined = this.root;
    for (const name of segments.slice(0, -1)) parent = parent?.children.get(name);
    parent?.children.delete(segments[segments.length - 1]);
  }
}

function newEntry(key: string, dir: boolean, value: string, index: number): Entry {
  return { key, dir, value, createdIndex: index, modifiedIndex: index, children: new Map() };
}

function leafNode(e: Entry): V2Node {
  return { key: e.key, value: e.value, modifiedIndex: e.modifiedIndex, createdIndex: e.createdIndex };
}

// Mirrors etcd's NodeExtern: hidden children ("_" names such as _config) are never listed,
// and sub-directories only carry their children on recursive gets.
function toListing(e: Entry, recursive: boolean, sorted: boolean, top = true): V2Node {
  if (!e.dir) return leafNode(e);
  const node: V2Node = { key: e.key, dir: true, modifiedIndex: e.modifiedIndex, createdIndex: e.createdIndex };
  if (!top && !recursive) return node;
  const children = [...e.children.values()].filter((c) => !isHiddenName(baseName(c.key)));
  children.sort(sorted ? (a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) : (a, b) => a.createdIndex - b.createdIndex);
  const nodes = children.map((c) => toListing(c, recursive, sorted, false));
  // etcd omits an empty "nodes" array.
  if (nodes.length > 0) node.nodes = nodes;
  return node;
}

function indexOf(e: V2Event): number {
  return e.node.modifiedIndex;
}

// etcd's watcher rules: the exact key; keys below a recursive watch unless hidden on the way;
// and any watch below a directory that was deleted.
function matches(e: V2Event, watchKey: string, recursive: boolean): boolean {
  const key = e.node.key;
  if (key === watchKey) return true;
  const prefix = watchKey === '/' ? '/' : `${watchKey}/`;
  if (recursive && key.startsWith(prefix) && !key.slice(prefix.length).split('/').some(isHiddenName)) return true;
  return e.action === 'delete' && e.prevNode?.dir === true && watchKey.startsWith(`${key}/`);
}

function isHiddenName(name: string): boolean {
  return name.startsWith('_');
}

export function splitKey(key: string): string[] {
  const out: string[] = [];
  for (const part of key.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out;
}

function joinKey(segments: string[]): string {
  return `/${segments.join('/')}`;
}

function baseName(key: string): string {
  const segments = splitKey(key);
  return segments[segments.length - 1] ?? '';
}
