import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { test } from 'node:test';
import { Plan, ProbeState } from '../../proto/gen/muster/agent/v1/agent.js';
import { Task } from '../../proto/gen/muster/agent/v1/tasks.js';
import { silent, tempHost } from '../../test/helpers/host.js';
import { Engine } from '../engine/engine.js';
import type { ProbeRunner } from '../probes/probes.js';
import { StatusHub } from '../status/hub.js';
import { buildHttp, close, listen } from './http.js';
import { AgentMetrics } from './metrics.js';

// Real requests over loopback; the same shape as fastify's inject() answers.
async function served(server: Server) {
  const port = await listen(server, '127.0.0.1', 0);
  return {
    async inject(path: string, method = 'GET') {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
      const body = await res.text();
      return { statusCode: res.status, headers: res.headers, body, json: () => JSON.parse(body) };
    },
  };
}

test('http: /healthz, /readyz with the reason when not ready, /status, /metrics', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  let probeStatuses: ReturnType<ProbeRunner['statuses']> = [];
  const probes = { statuses: () => probeStatuses } as unknown as ProbeRunner;
  let serving = true;
  const engine = new Engine(h.host, silent, { task: (r) => metrics.task(r), summary: (s) => metrics.summary(s) });
  const hub = new StatusHub('n1', engine, probes, Date.now(), () => serving);
  const metrics = new AgentMetrics(() => hub.current());
  const server = buildHttp({ name: 'n1', status: () => hub.current(), metrics });
  const app = await served(server);
  t.after(() => close(server));

  assert.deepEqual((await app.inject('/healthz')).json(), { status: 'ok', node: 'n1' });
  assert.equal((await app.inject('/readyz')).statusCode, 200, 'ready before any plan');

  const ok = Task.fromPartial({ id: 'a', file: { path: '/etc/kubernetes/a', content: Buffer.from('a') } });
  await engine.run(Plan.fromPartial({ node: 'n1', revision: 'rev1', tasks: [ok] }), { mode: 2 });
  const metricsText = (await app.inject('/metrics')).body;
  assert.match(metricsText, /muster_agent_tasks_total\{kind="file",status="changed"\} 1/);
  assert.match(metricsText, /muster_agent_plan_revision_info\{revision="rev1"\} 1/);
  assert.match(metricsText, /muster_agent_applies_total\{mode="apply",outcome="changed"\} 1/);
  assert.match(metricsText, /muster_agent_ready 1/);
  assert.equal((await app.inject('/status')).json().revision, 'rev1');

  // A plan refused in validation leaves the node converged to rev1: still ready.
  const refused = Task.fromPartial({ id: 'b', file: { path: '/etc/passwd', content: Buffer.from('x') } });
  await engine.run(Plan.fromPartial({ node: 'n1', revision: 'rev2', tasks: [refused] }), { mode: 2 });
  assert.equal((await app.inject('/readyz')).statusCode, 200);

  // A failing probe makes the node not ready, naming the probe, its error and since when.
  probeStatuses = [{ name: 'kubelet', state: ProbeState.PROBE_STATE_FAILED, message: 'connect ECONNREFUSED 127.0.0.1:10248', lastError: 'connect ECONNREFUSED 127.0.0.1:10248', sinceMs: Date.parse('2026-11-25T10:00:00Z'), checkedAtMs: Date.now(), details: {} }];
  const probeDown = await app.inject('/readyz');
  assert.equal(probeDown.statusCode, 503);
  assert.equal(probeDown.json().reason, 'probe kubelet failed since 2026-11-25T10:00:00.000Z: connect ECONNREFUSED 127.0.0.1:10248');
  const probeMetrics = (await app.inject('/metrics')).body;
  assert.match(probeMetrics, /muster_agent_probe_state\{probe="kubelet",state="failed"\} 1/);
  assert.match(probeMetrics, /muster_agent_probe_state\{probe="kubelet",state="healthy"\} 0/);
  probeStatuses = [];

  // A task that fails while applying leaves the node short of its plan: not ready. (a stays in
  // the plan: a file that left it would be removed first, and b would then go through.)
  const bad = Task.fromPartial({ id: 'b', file: { path: '/etc/kubernetes/a/under-a-file', content: Buffer.from('x') } });
  await engine.run(Plan.fromPartial({ node: 'n1', revision: 'rev2', tasks: [ok, bad] }), { mode: 2 });
  const notReady = await app.inject('/readyz');
  assert.equal(notReady.statusCode, 503);
  assert.match(notReady.json().reason, /the last apply \(revision rev2\) failed at task b/);

  serving = false;
  await engine.run(Plan.fromPartial({ node: 'n1', revision: 'rev1', tasks: [ok] }), { mode: 2 });
  assert.equal((await app.inject('/readyz')).json().reason, 'the gRPC server is not serving');
});

test('http: unknown paths and methods are 404 JSON; HEAD has no body; a query string is ignored', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const probes = { statuses: () => [] } as unknown as ProbeRunner;
  const engine = new Engine(h.host, silent);
  const hub = new StatusHub('n1', engine, probes, Date.now(), () => true);
  const server = buildHttp({ name: 'n1', status: () => hub.current(), metrics: new AgentMetrics(() => hub.current()) });
  const app = await served(server);
  t.after(() => close(server));

  const missing = await app.inject('/nope');
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().message, 'Route GET:/nope not found');
  assert.equal((await app.inject('/healthz', 'POST')).statusCode, 404, 'read-only: no other method');
  assert.equal((await app.inject('/healthz', 'DELETE')).statusCode, 404);
  const head = await app.inject('/healthz', 'HEAD');
  assert.equal(head.statusCode, 200);
  assert.equal(head.body, '');
  const withQuery = await app.inject('/healthz?verbose=1');
  assert.deepEqual(withQuery.json(), { status: 'ok', node: 'n1' });
  assert.match(withQuery.headers.get('content-type') ?? '', /^application\/json/);
  const metrics = await app.inject('/metrics');
  assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
});
