import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Task } from '../../proto/gen/muster/agent/v1/tasks.js';
import { tempHost } from '../../test/helpers/host.js';
import { buildHttp } from './http.js';
import { AgentMetrics } from './metrics.js';
import { Engine } from '../engine/engine.js';
import { silent } from '../../test/helpers/host.js';

test('http: /healthz, /readyz with the reason when not ready, /metrics after an apply', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const metrics = new AgentMetrics();
  const engine = new Engine(h.host, silent, { task: (r) => metrics.task(r), summary: (s) => metrics.summary(s, engine.status.revision) });
  let serving = true;
  const app = buildHttp({ name: 'n1', engine, metrics, serving: () => serving });
  t.after(() => app.close());

  assert.deepEqual((await app.inject('/healthz')).json(), { status: 'ok', node: 'n1' });
  assert.equal((await app.inject('/readyz')).statusCode, 200, 'ready before any plan');

  const ok = Task.fromPartial({ id: 'a', file: { path: '/etc/kubernetes/a', content: Buffer.from('a'), mode: 0, owner: '', group: '', secret: false } });
  await engine.run({ node: 'n1', revision: 'rev1', tasks: [ok], handlers: [] }, { mode: 2 });
  const metricsText = (await app.inject('/metrics')).body;
  assert.match(metricsText, /muster_agent_tasks_total\{kind="file",status="changed"\} 1/);
  assert.match(metricsText, /muster_agent_plan_revision_info\{revision="rev1"\} 1/);
  assert.match(metricsText, /muster_agent_applies_total\{mode="apply",outcome="changed"\} 1/);

  // A plan refused in validation leaves the node converged to rev1: still ready.
  const refused = Task.fromPartial({ id: 'b', file: { path: '/etc/passwd', content: Buffer.from('x'), mode: 0, owner: '', group: '', secret: false } });
  await engine.run({ node: 'n1', revision: 'rev2', tasks: [refused], handlers: [] }, { mode: 2 });
  assert.equal((await app.inject('/readyz')).statusCode, 200);
  // A task that fails while applying leaves the node short of its plan: not ready.
  const bad = Task.fromPartial({ id: 'b', file: { path: '/etc/kubernetes/a/under-a-file', content: Buffer.from('x'), mode: 0, owner: '', group: '', secret: false } });
  await engine.run({ node: 'n1', revision: 'rev2', tasks: [bad], handlers: [] }, { mode: 2 });
  const notReady = await app.inject('/readyz');
  assert.equal(notReady.statusCode, 503);
  assert.match(notReady.json().reason, /the last apply \(revision rev2\) failed at task b/);

  serving = false;
  await engine.run({ node: 'n1', revision: 'rev1', tasks: [ok], handlers: [] }, { mode: 2 });
  assert.equal((await app.inject('/readyz')).json().reason, 'the gRPC server is not serving');
});
