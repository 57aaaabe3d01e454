import Fastify, { type FastifyInstance } from 'fastify';
import type { Engine } from '../engine/engine.js';
import type { AgentMetrics } from './metrics.js';

export interface HttpDeps {
  name: string;
  engine: Engine;
  metrics: AgentMetrics;
  // serving is true while the gRPC server accepts calls.
  serving(): boolean;
}

// Why the agent is not ready, or undefined when it is.
export function notReadyReason(deps: HttpDeps): string | undefined {
  if (!deps.serving()) return 'the gRPC server is not serving';
  const last = deps.engine.status.lastResult;
  if (last && !last.converged) {
    return last.failedTask ? `the last apply (revision ${last.revision}) failed at task ${last.failedTask}` : `the last apply (revision ${last.revision}) did not converge`;
  }
  return undefined;
}

export function buildHttp(deps: HttpDeps): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', async () => ({ status: 'ok', node: deps.name }));
  app.get('/readyz', async (_req, reply) => {
    const reason = notReadyReason(deps);
    if (reason) return reply.code(503).send({ ready: false, node: deps.name, reason });
    return { ready: true, node: deps.name, revision: deps.engine.status.revision };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
  return app;
}
