import Fastify, { type FastifyInstance } from 'fastify';
import { Counter, Gauge, Registry } from 'prom-client';
import { registerBuildInfo } from '../../common/build-info.js';
import { registerProcessMetrics } from '../../common/process-metrics.js';
import { ProbeState } from '../../proto/gen/muster/agent/v1/agent.js';
import type { FleetMonitor } from '../fleet/monitor.js';
import { viewJson, viewRow, VIEW_HEADERS } from '../fleet/view.js';
import { registerDashboard } from './dashboard.js';

// The long-running controller's HTTP API, fed by the agents' status streams.
export function buildApi(monitor: FleetMonitor): { app: FastifyInstance; registry: Registry; driftCounter: Counter } {
  const app = Fastify({ logger: false });
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
  const driftCounter = new Counter({ name: 'muster_fleet_drift_events_total', help: 'Drift events reported by agents.', labelNames: ['node', 'repaired'], registers: [registry] });

  app.get('/healthz', async () => ({ status: 'ok' }));
  registerDashboard(app);
  app.get('/v1/fleet', async (req) => {
    const all = views();
    if ((req.query as { format?: string }).format === 'table') {
      const rows = all.map((v) => viewRow(v));
      return [VIEW_HEADERS, ...rows].map((r) => r.join('\t')).join('\n') + '\n';
    }
    return {
      nodes: all.map(viewJson),
      summary: {
        total: all.length,
        ready: all.filter((v) => !v.error && v.status?.ready).length,
        unreachable: all.filter((v) => v.error).length,
      },
      recentDrift: monitor.recentDrift.slice(-50).map((d) => ({ node: d.node, ...d.event })),
    };
  });
  app.get('/v1/nodes/:name', async (req, reply) => {
    const v = monitor.views.get((req.params as { name: string }).name);
    if (!v) return reply.code(404).send({ error: 'UNKNOWN_NODE', message: `no node ${(req.params as { name: string }).name} in the inventory` });
    return viewJson(v);
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  return { app, registry, driftCounter };
}
