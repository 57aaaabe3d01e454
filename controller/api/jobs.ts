import type { FastifyInstance } from 'fastify';
import type { Server } from 'node:https';
import type { ControllerService, RolloutRequest, RunRequest } from '../app/service.js';
import { idParams, operatorOf, sendError } from './server.js';

const path = { type: 'string', minLength: 1, maxLength: 4096 };
const ms = { type: 'integer', minimum: 0, maximum: 86_400_000 };
const roleMs = { type: 'object', additionalProperties: false, properties: Object.fromEntries(['etcd', 'control-plane', 'lb', 'worker'].map((r) => [r, ms])) };
const runProps = {
  cluster: path,
  tasks: path,
  limit: { type: 'string', minLength: 1, maxLength: 4096 },
  concurrency: { type: 'integer', minimum: 1, maximum: 100_000 },
  timeout: { type: 'integer', minimum: 1, maximum: 86_400 },
};
const rolloutOptions = {
  type: 'object',
  additionalProperties: false,
  properties: {
    batch: { type: 'string', maxLength: 256 },
    by: { type: 'string', maxLength: 253 },
    canary: { type: 'integer', minimum: 1 },
    canaryWaitMs: ms,
    maxFailed: { type: 'string', maxLength: 16 },
    soakMs: roleMs,
    gateTimeoutMs: roleMs,
    pollMs: { type: 'integer', minimum: 1, maximum: 3_600_000 },
    etcdRaftLag: { type: 'integer', minimum: 0 },
  },
};

// The routes that start work: leader only, write role (the onRequest hook checks the role).
export function registerJobRoutes(app: FastifyInstance<Server>, service: ControllerService): void {
  const write = { access: 'write' as const };
  app.post('/v1/apply', { config: write, schema: { body: { type: 'object', additionalProperties: false, properties: runProps } } }, async (req, reply) => {
    const job = await service.apply((req.body ?? {}) as RunRequest, operatorOf(req));
    return reply.code(202).send({ job });
  });
  app.post('/v1/rollouts', { config: write, schema: { body: { type: 'object', additionalProperties: false, properties: { ...runProps, options: rolloutOptions, dryRun: { type: 'boolean' } } } } }, async (req, reply) => {
    const job = await service.rollout((req.body ?? {}) as RolloutRequest, operatorOf(req));
    return reply.code(202).send({ job });
  });
  app.post('/v1/rollouts/:id/resume', { config: write, schema: { params: idParams } }, async (req, reply) => {
    const { record, job } = await service.resume((req.params as { id: string }).id, operatorOf(req));
    return reply.header('x-muster-job', job.id).send(record);
  });
  app.get('/v1/jobs/:id', async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const job = service.job(id);
    if (!job) return sendError(reply, 'JOB_NOT_FOUND', `no job ${id} on this controller (jobs are kept in memory until it restarts)`);
    return job;
  });
}
