import Fastify, { type FastifyInstance } from 'fastify';
import { NodeStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import type { AgentMetrics } from './metrics.js';

export interface HttpDeps {
  name: string;
  status: () => NodeStatus;
  metrics: AgentMetrics;
}

export function buildHttp(deps: HttpDeps): FastifyInstance {
  const app = Fastify({ logger: false });
  // Alive: the process answers. Nothing else is checked, so a restart is never caused by a probe.
  app.get('/healthz', async () => ({ status: 'ok', node: deps.name }));
  // Ready: converged to the last plan and every probe healthy; the reason when not.
  app.get('/readyz', async (_req, reply) => {
    const s = deps.status();
    if (!s.ready) return reply.code(503).send({ ready: false, node: deps.name, reason: s.notReadyReason });
    return { ready: true, node: deps.name, revision: s.revision };
  });
  app.get('/status', async () => NodeStatus.toJSON(deps.status()));
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
  return app;
}
