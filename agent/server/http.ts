import type { Server } from 'node:http';
import { NodeStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import type { AgentMetrics } from './metrics.js';

// Not `import http from 'node:http'`: on Node 24 that evaluates http's lazy WebSocket getters,
// which load undici into every agent (11 MiB of RSS, docs/benchmarks.md).
const { createServer } = process.getBuiltinModule('node:http');

export interface HttpDeps {
  name: string;
  status: () => NodeStatus;
  metrics: AgentMetrics;
}

interface Reply {
  code: number;
  type: string;
  body: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const json = (value: unknown, code = 200): Reply => ({ code, type: JSON_TYPE, body: JSON.stringify(value) });

// Four read-only GETs on node:http: a web framework would cost the idle agent about 3 MiB.
async function route(deps: HttpDeps, pathname: string): Promise<Reply | undefined> {
  switch (pathname) {
    // Alive: the process answers. Nothing else is checked, so a restart is never caused by a probe.
    case '/healthz':
      return json({ status: 'ok', node: deps.name });
    // Ready: converged to the last plan and every probe healthy; the reason when not.
    case '/readyz': {
      const s = deps.status();
      if (!s.ready) return json({ ready: false, node: deps.name, reason: s.notReadyReason }, 503);
      return json({ ready: true, node: deps.name, revision: s.revision });
    }
    case '/status':
      return json(NodeStatus.toJSON(deps.status()));
    case '/metrics':
      return { code: 200, type: deps.metrics.registry.contentType, body: await deps.metrics.registry.metrics() };
    default:
      return undefined;
  }
}

export function buildHttp(deps: HttpDeps): Server {
  return createServer((req, res) => {
    // Nothing here reads a request body: drop it rather than buffer it.
    req.resume();
    const pathname = (req.url ?? '/').split('?', 1)[0];
    const known = req.method === 'GET' || req.method === 'HEAD' ? route(deps, pathname) : Promise.resolve(undefined);
    known
      .then((r) => r ?? json({ error: 'Not Found', message: `Route ${req.method}:${pathname} not found`, statusCode: 404 }, 404))
      .catch((err: Error) => json({ error: 'Internal Server Error', message: err.message, statusCode: 500 }, 500))
      .then((r) => {
        res.writeHead(r.code, { 'content-type': r.type, 'content-length': Buffer.byteLength(r.body) });
        res.end(req.method === 'HEAD' ? undefined : r.body);
      });
  });
}

// Listens and resolves with the port (the given one, or the one the kernel chose for 0).
export function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

// Stops accepting and ends idle keep-alive connections, so a stop does not wait on a scraper.
export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
