import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { Counter, Gauge, Registry } from 'prom-client';
import { registerBuildInfo } from '../../common/build-info.js';
import { registerProcessMetrics } from '../../common/process-metrics.js';
import { ProbeState } from '../../proto/gen/muster/agent/v1/agent.js';
import type { ControllerEvents } from '../app/events.js';
import { NotLeaderError, type ControllerService } from '../app/service.js';
import { ControllerError, controllerErrors, type ControllerErrorCode } from '../errors.js';
import type { FleetMonitor } from '../fleet/monitor.js';
import { viewJson, viewRow, VIEW_HEADERS } from '../fleet/view.js';
import type { Leadership } from '../ha/leadership.js';
import { ROLE_CONTROLLER, ROLE_OPERATOR, ROLE_READER } from '../pki/fleet.js';
import { abortRollout, pauseRollout, rolloutStatus } from '../rollout/control.js';
import type { Operator, Store } from '../store/store.js';
import { registerDashboard } from './dashboard.js';
import { registerJobRoutes } from './jobs.js';

export const API_BODY_LIMIT = 64 * 1024;
// A watcher that stops reading is dropped once this much is queued for it.
const SSE_MAX_QUEUED = 4 * 1024 * 1024;
const SSE_KEEPALIVE_MS = 15_000;

export interface Caller {
  cn: string;
  role: string;
  canWrite: boolean;
}

export interface ApiTls {
  // PEM: the server certificate (chain), its key, and the fleet CA bundle client certificates must chain to.
  cert: string;
  key: string;
  ca: string;
}

export interface ApiDeps {
  monitor: FleetMonitor;
  store: Store;
  leadership: Leadership;
  self: { id: string; store: string };
  events: ControllerEvents;
  revoked: { has(serial: string): boolean };
  // The routes that start jobs (apply, rollouts, resume); absent: not served.
  service?: ControllerService;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
  interface FastifyContextConfig {
    // Who may call: anyone (healthz), a reader or better (default), a writer.
    access?: 'anyone' | 'read' | 'write';
  }
}

const WRITE_ROLES = new Set([ROLE_CONTROLLER, ROLE_OPERATOR]);

// The role a verified client certificate carries in its OU; agents and unknown roles get none here.
export function callerOf(cert: { subject?: { CN?: string | string[]; OU?: string | string[] } }): Caller | undefined {
  const ou = cert.subject?.OU;
  const roles = ou === undefined ? [] : Array.isArray(ou) ? ou : [ou];
  const cn = cert.subject?.CN;
  const name = (Array.isArray(cn) ? cn[0] : cn) ?? '';
  const write = roles.find((r) => WRITE_ROLES.has(r));
  if (write) return { cn: name, role: write, canWrite: true };
  if (roles.includes(ROLE_READER)) return { cn: name, role: ROLE_READER, canWrite: false };
  return undefined;
}

// Who did it, for the history: the certificate's name and where the call came from.
export const operatorOf = (req: FastifyRequest): Operator => ({ user: req.caller?.cn ?? '', host: `api ${req.ip}` });

export function sendError(reply: FastifyReply, code: ControllerErrorCode, message: string, extra: object = {}): FastifyReply {
  return reply.code(controllerErrors[code].http).send({ error: code, message, ...extra });
}

const limitQuery = (max: number, dflt: number) => ({ type: 'integer', minimum: 1, maximum: max, default: dflt });
const reasonBody = { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', maxLength: 1024 } } };
export const idParams = { type: 'object', properties: { id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' } } };

// The controller's HTTPS API: mutual TLS with fleet-CA client certificates, the role in each
// (controller or operator: read and write; reader: read), fed by the monitor and the store.
export function buildApi(deps: ApiDeps, tls: ApiTls): { app: FastifyInstance<Server>; registry: Registry; driftCounter: Counter } {
  const { monitor, store, events } = deps;
  const app = Fastify({
    logger: false,
    bodyLimit: API_BODY_LIMIT,
    // Unauthenticated here so /healthz answers anyone; every other route checks the certificate below.
    https: { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
  });
  const registry = fleetMetrics(monitor);
  const driftCounter = new Counter({ name: 'muster_fleet_drift_events_total', help: 'Drift events reported by agents.', labelNames: ['node', 'repaired'], registers: [registry] });
  // One look at a connection's certificate (keep-alive requests reuse it); the revocation list
  // is asked on every request, so a revocation reaches a long-lived connection too.
  const seen = new WeakMap<TLSSocket, { serial: string; who: Caller | ControllerError }>();
  const identify = (socket: TLSSocket): Caller | ControllerError => {
    let c = seen.get(socket);
    if (!c) {
      const cert = socket.getPeerCertificate();
      const serial = cert?.serialNumber ?? '';
      if (!cert || !cert.subject) c = { serial, who: new ControllerError('NOT_AUTHENTICATED', 'the controller API needs a client certificate from the fleet CA ("muster certs issue --role operator|reader")') };
      else if (!socket.authorized) c = { serial, who: new ControllerError('NOT_AUTHENTICATED', `the client certificate is not from this fleet's CA: ${String(socket.authorizationError)}`) };
      else c = { serial, who: callerOf(cert) ?? new ControllerError('ROLE_REFUSED', `the certificate of ${String(cert.subject.CN)} has role ${String(cert.subject.OU ?? 'none')}: the API takes controller, operator or reader certificates`) };
      seen.set(socket, c);
    }
    if (!(c.who instanceof ControllerError) && deps.revoked.has(c.serial)) return new ControllerError('CERT_REVOKED', `the certificate of ${c.who.cn} (serial ${c.serial}) is revoked`);
    return c.who;
  };

  app.addHook('onRequest', async (req, reply) => {
    const access = req.routeOptions.config.access ?? 'read';
    if (access === 'anyone') return;
    const who = identify(req.raw.socket as TLSSocket);
    if (who instanceof ControllerError) return sendError(reply, who.code, who.message);
    req.caller = who;
    if (access === 'write' && !who.canWrite) return sendError(reply, 'ROLE_REFUSED', `${req.method} ${req.url} needs a controller or operator certificate; ${who.cn} has role ${who.role}`);
  });
  app.setErrorHandler((err: FastifyError | ControllerError, _req, reply) => {
    if (err instanceof NotLeaderError) return sendError(reply, err.code, err.message, err.leader ? { leader: err.leader } : {});
    if (err instanceof ControllerError) return sendError(reply, err.code, err.message);
    if (err.name === 'SpecError') return sendError(reply, 'SPEC_INVALID', err.message);
    if (err.validation) return sendError(reply, 'REQUEST_INVALID', `${err.validationContext ?? 'request'}${err.validation[0]?.instancePath ?? ''} ${err.validation[0]?.message ?? err.message}`);
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, 'REQUEST_TOO_LARGE', `the body is over ${API_BODY_LIMIT} bytes`);
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return sendError(reply, 'REQUEST_INVALID', err.message);
    return sendError(reply, 'INTERNAL', err.message);
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 'ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));

  app.get('/healthz', { config: { access: 'anyone' } }, async () => ({ status: 'ok' }));
  registerDashboard(app);
  app.get('/v1/whoami', async (req) => req.caller);
  const leaderBody = async () => {
    const leader = await deps.leadership.leader();
    return { self: { id: deps.self.id, leader: deps.leadership.isLeader(), store: deps.self.store }, ...(leader ? { leader } : {}) };
  };
  app.get('/v1/leader', leaderBody);
  app.get('/v1/fleet', async (req) => {
    const all = [...monitor.views.values()];
    // views: as the monitor holds them, for the CLI's remote status to print as it does in-process.
    if ((req.query as { format?: string }).format === 'views') return { views: all };
    if ((req.query as { format?: string }).format === 'table') {
      const rows = all.map((v) => viewRow(v));
      return [VIEW_HEADERS, ...rows].map((r) => r.join('\t')).join('\n') + '\n';
    }
    return {
      nodes: all.map(viewJson),
      summary: { total: all.length, ready: all.filter((v) => !v.error && v.status?.ready).length, unreachable: all.filter((v) => v.error).length },
      recentDrift: monitor.recentDrift.slice(-50).map((d) => ({ node: d.node, ...d.event })),
    };
  });
  app.get('/v1/nodes/:name', async (req, reply) => {
    const name = (req.params as { name: string }).name;
    const v = monitor.views.get(name);
    if (!v) return sendError(reply, 'UNKNOWN_NODE', `no node ${name} in the inventory`);
    return viewJson(v);
  });
  app.get('/v1/rollouts', { schema: { querystring: { type: 'object', properties: { limit: limitQuery(1000, 20) } } } }, async (req) => ({ rollouts: await store.rollouts((req.query as { limit: number }).limit) }));
  app.get('/v1/rollouts/:id', { schema: { params: idParams } }, async (req) => rolloutStatus(store, (req.params as { id: string }).id));
  for (const [action, change] of [['pause', pauseRollout], ['abort', abortRollout]] as const) {
    app.post(`/v1/rollouts/:id/${action}`, { config: { access: 'write' }, schema: { params: idParams, body: reasonBody } }, async (req) => change(store, (req.params as { id: string }).id, (req.body as { reason?: string } | undefined)?.reason ?? '', operatorOf(req)));
  }
  app.get('/v1/history', { schema: { querystring: { type: 'object', properties: { limit: limitQuery(1000, 50), node: { type: 'string', maxLength: 253 } } } } }, async (req) => {
    const q = req.query as { limit: number; node?: string };
    return { entries: await store.history({ node: q.node, limit: q.limit }) };
  });
  app.get('/v1/events', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    const write = (text: string) => {
      if (res.writableLength > SSE_MAX_QUEUED) return res.destroy();
      res.write(text);
    };
    write(': muster events\n\n');
    const off = events.subscribe((name, data) => write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`));
    const keepAlive = setInterval(() => write(': keep-alive\n\n'), SSE_KEEPALIVE_MS);
    res.on('close', () => {
      off();
      clearInterval(keepAlive);
    });
  });
  if (deps.service) registerJobRoutes(app, deps.service);
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  const unwatch = deps.leadership.onChange(() => void leaderBody().then((b) => events.emit('leader', b), () => undefined));
  app.addHook('onClose', async () => unwatch());
  return { app, registry, driftCounter };
}

function fleetMetrics(monitor: FleetMonitor): Registry {
  const registry = new Registry();
  registerBuildInfo(registry, 'muster');
  registerProcessMetrics(registry);
  const views = () => [...monitor.views.values()];
  new Gauge({
    name: 'muster_fleet_nodes',
    help: 'Nodes by state: ready, not-ready, unreachable.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      const all = views();
      this.set({ state: 'unreachable' }, all.filter((v) => v.error).length);
      this.set({ state: 'ready' }, all.filter((v) => !v.error && v.status?.ready).length);
      this.set({ state: 'not-ready' }, all.filter((v) => !v.error && v.status && !v.status.ready).length);
    },
  });
  new Gauge({
    name: 'muster_fleet_probe_failures',
    help: 'Probes not healthy, by node and probe.',
    labelNames: ['node', 'probe'],
    registers: [registry],
    collect() {
      this.reset();
      for (const v of views()) for (const p of v.status?.probes ?? []) if (p.state !== ProbeState.PROBE_STATE_HEALTHY) this.set({ node: v.node.name, probe: p.name }, 1);
    },
  });
  new Gauge({
    name: 'muster_fleet_certificate_expiry_timestamp_seconds',
    help: 'When the soonest-expiring managed certificate of each node expires (Unix time, seconds).',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.reset();
      for (const v of views()) {
        const notAfter = v.status?.certificates.map((c) => c.notAfterMs) ?? [];
        if (notAfter.length) this.set({ node: v.node.name }, Math.min(...notAfter) / 1000);
      }
    },
  });
  return registry;
}
