import rateLimit from '@fastify/rate-limit';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { writeFileAtomic } from '../../common/atomic-write.js';
import {
  DEFAULT_CLUSTER_SIZE,
  DiscoveryStore,
  ErrorCode,
  EtcdError,
  clusterSizeError,
  isValidClusterSize,
  splitKey,
  type V2Event,
} from './store.js';

// HTTP face of the discovery store. etcd 3.4 builds its discovery client with an empty
// keys prefix, so `--discovery http://host/<token>` makes it call http://host/<token>/_config/size,
// not /v2/keys/...; both spellings are served so a URL written either way works.

export interface DiscoveryRouteOptions {
  // Path the routes hang under (e.g. '/discovery'); '' serves http://host/<token> like discovery.etcd.io.
  prefix?: string;
  // Base of the URLs /new hands out when the controller sits behind a proxy; defaults to the request's scheme and Host.
  publicUrl?: string;
  // Longest a watch is held; then an empty 200 makes etcd's client re-issue it (0 holds forever, as etcd does).
  maxWaitMs?: number;
  // The operator's shared secret: /new needs "Authorization: Bearer <secret>". Without one, no
  // token can be made over HTTP at all (closed by default).
  operatorSecret?: string;
  // Writes (registrations, /new) per client address and window; reads (watches) are not counted.
  rateLimit?: { max: number; timeWindowMs: number };
}

// Where `muster discovery serve` listens unless told otherwise: loopback, so only this machine
// (or a proxy in front) reaches it.
export const DEFAULT_DISCOVERY_LISTEN = '127.0.0.1:2381';
export const DEFAULT_RATE_LIMIT = { max: 30, timeWindowMs: 10_000 };
// A registration or a /new form is a few hundred bytes.
export const MAX_BODY_BYTES = 8 * 1024;
export const OPERATOR_SECRET_FILE = 'discovery-operator.secret';

// The operator secret in the state folder, made (0600) on first use; the CLI reads the same file.
export async function ensureOperatorSecret(stateDir: string): Promise<string> {
  const file = path.join(stateDir, OPERATOR_SECRET_FILE);
  const existing = await readOperatorSecret(stateDir);
  if (existing) return existing;
  const secret = randomBytes(32).toString('hex');
  await writeFileAtomic(file, secret + '\n', { mode: 0o600 });
  return secret;
}

export async function readOperatorSecret(stateDir: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(path.join(stateDir, OPERATOR_SECRET_FILE), 'utf8')).trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

// Compared as digests: equal length, constant time.
function secretMatches(header: string | undefined, secret: string): boolean {
  const m = /^Bearer (\S+)$/.exec(header ?? '');
  if (!m) return false;
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(m[1]), digest(secret));
}

export const DEFAULT_MAX_WAIT_MS = 5 * 60_000;
// A registration is "name=peerURL[,name=peerURL]"; anything near this size is not one.
const MAX_VALUE_BYTES = 4096;
const MEMBER_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const KEY_ROUTE_BASES = ['', '/v2/keys'];
// etcd v2 options that change write semantics; refusing them beats silently ignoring a condition.
const UNSUPPORTED_WRITE_FIELDS = ['dir', 'prevValue', 'prevIndex', 'ttl', 'refresh'];

type Query = Record<string, unknown>;

class WaitEnded extends Error {
  constructor(readonly why: 'client-gone' | 'expired' | 'closing') {
    super(`watch ended: ${why}`);
  }
}

// Parses ?size= the way discovery.etcd.io does (default 3); throws RangeError with a readable message.
export function parseClusterSize(raw: unknown): number {
  if (raw === undefined || raw === '') return DEFAULT_CLUSTER_SIZE;
  const text = typeof raw === 'number' ? String(raw) : raw;
  if (typeof text !== 'string' || !/^\d{1,4}$/.test(text.trim())) throw new RangeError(clusterSizeError());
  const size = Number(text.trim());
  if (!isValidClusterSize(size)) throw new RangeError(clusterSizeError());
  return size;
}

// For the CLI: make a token without HTTP. Returns the bare token; see discoveryUrl for the URL.
export function createDiscoveryToken(store: DiscoveryStore, size: number): string {
  return store.createToken(size);
}

export function discoveryUrl(base: string, token: string, prefix = ''): string {
  return `${base.replace(/\/+$/, '')}${normalizePrefix(prefix)}/${token}`;
}

export async function registerDiscoveryRoutes(
  app: FastifyInstance,
  store: DiscoveryStore,
  options: DiscoveryRouteOptions = {},
): Promise<void> {
  const prefix = normalizePrefix(options.prefix ?? '');
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const limit = options.rateLimit ?? DEFAULT_RATE_LIMIT;
  const pending = new Set<AbortController>();

  // Encapsulated so the form parser and error handler stay local to these routes.
  await app.register(
    async (scope) => {
      await scope.register(rateLimit, { global: false });
      const writeLimit = { rateLimit: { max: limit.max, timeWindow: limit.timeWindowMs } };
      // etcd's client PUTs registrations as application/x-www-form-urlencoded, which fastify does not parse by default.
      if (!scope.hasContentTypeParser('application/x-www-form-urlencoded')) {
        scope.addContentTypeParser(
          'application/x-www-form-urlencoded',
          { parseAs: 'string', bodyLimit: MAX_BODY_BYTES },
          (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
        );
      }

      // Answer parked watches on shutdown, or app.close() would wait on them forever.
      scope.addHook('preClose', (done) => {
        for (const ac of pending) ac.abort(new WaitEnded('closing'));
        done();
      });

      scope.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => {
        if (err instanceof EtcdError) return sendError(reply, err);
        const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
        if (status >= 500) request.log.error({ err }, 'discovery request failed');
        // etcd's client decodes every failure body as {errorCode, message, cause, index}.
        const code = status >= 500 ? 300 : ErrorCode.InvalidField;
        const message = status >= 500 ? 'Raft Internal Error' : 'Invalid field';
        return reply
          .code(status)
          .header('X-Etcd-Index', String(store.index))
          .send({ errorCode: code, message, cause: err.message, index: store.index });
      });

      scope.route({
        method: ['GET', 'POST', 'PUT'],
        url: '/new',
        bodyLimit: MAX_BODY_BYTES,
        config: writeLimit,
        handler: async (request, reply) => {
          if (!options.operatorSecret || !secretMatches(request.headers.authorization, options.operatorSecret)) {
            const why = options.operatorSecret ? 'needs the operator secret (Authorization: Bearer <secret>)' : 'is off: the service was started without an operator secret';
            return reply.code(401).header('WWW-Authenticate', 'Bearer').type('text/plain; charset=utf-8').send(`token creation ${why}\n`);
          }
          const body = isRecord(request.body) ? request.body : {};
          const raw = (request.query as Query).size ?? body.size;
          let size: number;
          try {
            size = parseClusterSize(raw);
          } catch (err) {
            return reply.code(400).type('text/plain; charset=utf-8').send(`${(err as Error).message}\n`);
          }
          let token: string;
          try {
            token = createDiscoveryToken(store, size);
          } catch (err) {
            if (!(err instanceof RangeError)) throw err;
            return reply.code(507).type('text/plain; charset=utf-8').send(`${err.message}\n`);
          }
          const base = options.publicUrl ?? `${request.protocol}://${request.host}`;
          return reply.type('text/plain; charset=utf-8').send(discoveryUrl(base, token, prefix));
        },
      });

      const getKey = async (request: FastifyRequest, reply: FastifyReply) => {
        const key = requestKey(request, store);
        const q = request.query as Query;
        const recursive = parseBool(q, 'recursive', store) ?? false;
        if (!(parseBool(q, 'wait', store) ?? false)) {
          const res = store.get(key, { recursive, sorted: parseBool(q, 'sorted', store) ?? false });
          return sendEvent(reply, 200, res, res.index);
        }
        const waitIndex = parseIndex(q.waitIndex, store);
        const ac = new AbortController();
        const onClose = () => ac.abort(new WaitEnded('client-gone'));
        reply.raw.once('close', onClose);
        // The client may already be gone by the time this handler runs.
        if (request.raw.socket?.destroyed) onClose();
        const timer = maxWaitMs > 0 ? setTimeout(() => ac.abort(new WaitEnded('expired')), maxWaitMs) : undefined;
        pending.add(ac);
        try {
          const event = await store.watch(key, { recursive, waitIndex }, ac.signal);
          return sendEvent(reply, 200, event, store.index);
        } catch (err) {
          if (!(err instanceof WaitEnded)) throw err;
          // On shutdown the answer goes out after server.close() began; an idle keep-alive socket would hold close() open.
          if (err.why === 'closing') reply.header('Connection', 'close');
          // etcd's watcher treats an empty 200 as "nothing yet" and re-issues the same wait (client.ErrEmptyBody).
          return reply.code(200).header('X-Etcd-Index', String(store.index)).send();
        } finally {
          clearTimeout(timer);
          pending.delete(ac);
          reply.raw.off('close', onClose);
        }
      };

      const putKey = async (request: FastifyRequest, reply: FastifyReply) => {
        const key = requestKey(request, store);
        const segments = splitKey(key);
        const name = segments[1] ?? '';
        // Only member registrations are writable: _config/size is fixed when the token is made.
        if (segments.length !== 2 || !MEMBER_KEY_RE.test(name)) {
          throw new EtcdError(
            ErrorCode.RootReadOnly,
            `${key}: only /<token>/<member-id> keys are writable`,
            store.index,
            'Key is read only',
          );
        }
        const q = request.query as Query;
        const body = isRecord(request.body) ? request.body : {};
        for (const field of UNSUPPORTED_WRITE_FIELDS) {
          if (q[field] !== undefined || body[field] !== undefined) {
            throw new EtcdError(ErrorCode.InvalidField, `${field} is not supported by this discovery service`, store.index);
          }
        }
        const prevExist = parseBool(q, 'prevExist', store);
        // Like Go's FormValue, the form body wins over the query string.
        const value = typeof body.value === 'string' ? body.value : typeof q.value === 'string' ? q.value : undefined;
        if (value === undefined) throw new EtcdError(ErrorCode.ValueRequired, 'value is required', store.index);
        if (Buffer.byteLength(value) > MAX_VALUE_BYTES) {
          throw new EtcdError(ErrorCode.InvalidField, `value is longer than ${MAX_VALUE_BYTES} bytes`, store.index);
        }
        if (prevExist === true) {
          throw new EtcdError(ErrorCode.RootReadOnly, `${key}: registrations are never updated (prevExist=true)`, store.index, 'Key is read only');
        }
        // Registrations only create: a member key that exists is 105, which etcd's client reads as
        // a duplicate id; a plain PUT is a create too, so nobody moves a registered member.
        const info = store.tokenInfo(segments[0])!;
        if (!info.members.some((m) => m.id === name) && info.members.length >= info.size) {
          // etcd's client sees the full listing and stops (ErrFullCluster) before it writes; a
          // late writer gets a failed condition rather than a place.
          throw new EtcdError(ErrorCode.TestFailed, `cluster full: ${info.size} of ${info.size} members registered`, store.index);
        }
        const res = store.set(key, value, { prevExist: false });
        return sendEvent(reply, 201, res, res.index);
      };

      for (const base of KEY_ROUTE_BASES) {
        scope.get(`${base}/:token`, getKey);
        scope.get(`${base}/:token/*`, getKey);
        scope.put(`${base}/:token/*`, { bodyLimit: MAX_BODY_BYTES, config: writeLimit }, putKey);
      }
    },
    { prefix },
  );
}

function normalizePrefix(prefix: string): string {
  const segments = prefix.split('/').filter(Boolean);
  return segments.length ? `/${segments.join('/')}` : '';
}

// Every key lives under a token made by /new, so unknown tokens are 404 even for watches.
function requestKey(request: FastifyRequest, store: DiscoveryStore): string {
  const params = request.params as { token: string; '*'?: string };
  const segments = splitKey(`${params.token}/${params['*'] ?? ''}`);
  const token = segments[0];
  if (!token || !store.hasToken(token)) throw new EtcdError(ErrorCode.KeyNotFound, `/${token ?? ''}`, store.index);
  return `/${segments.join('/')}`;
}

// Go's strconv.ParseBool, which etcd uses for its query flags.
function parseBool(q: Query, name: string, store: DiscoveryStore): boolean | undefined {
  const raw = q[name];
  if (raw === undefined) return undefined;
  if (typeof raw === 'string') {
    if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(raw)) return true;
    if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(raw)) return false;
  }
  throw new EtcdError(ErrorCode.InvalidField, `invalid value for ${name}`, store.index);
}

function parseIndex(raw: unknown, store: DiscoveryStore): number {
  if (raw === undefined || raw === '') return 0;
  if (typeof raw === 'string' && /^\d{1,15}$/.test(raw)) return Number(raw);
  throw new EtcdError(ErrorCode.IndexNaN, 'invalid value for waitIndex', store.index);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sendEvent(reply: FastifyReply, status: number, event: V2Event, index: number): FastifyReply {
  const body: V2Event = event.prevNode
    ? { action: event.action, node: event.node, prevNode: event.prevNode }
    : { action: event.action, node: event.node };
  return reply.code(status).header('X-Etcd-Index', String(index)).type('application/json').send(body);
}

function sendError(reply: FastifyReply, err: EtcdError): FastifyReply {
  return reply.code(err.status).header('X-Etcd-Index', String(err.index)).type('application/json').send(err.toJSON());
}
