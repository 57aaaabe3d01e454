import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Agent } from '../../agent/agent.js';
import { rolloutStatus } from '../../controller/rollout/control.js';
import { RolloutRunner, type RolloutNodeInput } from '../../controller/rollout/runner.js';
import { openStore, type SqliteStore } from '../../controller/store/sqlite.js';
import { Plan, type NodeStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { agentPorts, type AgentPorts } from '../helpers/agent-ports.js';
import { makeFleet, startAgents, type TestFleet } from '../helpers/fleet.js';

// The rollout runner over real agents on loopback (mTLS gRPC), reading their real probes: each
// worker's kubelet probe polls a stand-in kubelet /healthz (no kubelet exists on this machine).
let f: TestFleet;
let agents: Agent[];
let store: SqliteStore;
let kubelet: http.Server;
let kubeletUrl = '';
const sick = new Set<string>();
let ports: AgentPorts;
const names = ['n1', 'n2', 'n3'];

before(async () => {
  f = await makeFleet(3);
  agents = await startAgents(f);
  store = openStore(f.state);
  kubelet = http.createServer((req, res) => {
    const node = req.url?.split('/')[1] ?? '';
    res.writeHead(sick.has(node) ? 500 : 200).end(sick.has(node) ? 'kubelet stand-in: PLEG is not healthy' : 'ok');
  });
  await new Promise<void>((r) => kubelet.listen(0, '127.0.0.1', r));
  kubeletUrl = `http://127.0.0.1:${(kubelet.address() as AddressInfo).port}`;
  ports = await agentPorts(f.state, f.inventory.nodes);
});

after(async () => {
  ports.close();
  store.close();
  await Promise.all(agents.map((a) => a.stop()));
  await new Promise((r) => kubelet.close(r));
  await f.cleanup();
});

const file = '/etc/kubernetes/manifests/app.conf';
const planFor = (node: string, content: string): Plan => Plan.fromPartial({
  node,
  revision: `${node}-${content}`,
  tasks: [{ id: 'app', file: { path: file, content: Buffer.from(`${content}\n`) } }],
  probes: [{ name: 'kubelet', intervalMs: 100, timeoutMs: 1_000, http: { url: `${kubeletUrl}/${node}/healthz` } }],
});
const inputs = (content: string): RolloutNodeInput[] => names.map((name) => {
  const p = planFor(name, content);
  return { name, roles: ['worker'], plan: Plan.encode(p).finish(), revision: p.revision };
});
const onHost = (node: string) => fs.readFile(`${f.nodeRoot(node)}${file}`, 'utf8').catch(() => '(absent)');

const runner = () => new RolloutRunner({ store, dispatcher: ports.dispatcher, health: ports.health });
const options = { batch: '1', soakMs: { worker: 300 }, pollMs: 100, gateTimeoutMs: { worker: 3_000 } };

test('rollout over real agents: every worker applied with generation 1, gated on its kubelet probe', async () => {
  const r = await runner().start({ specHash: 'v1', nodes: inputs('one'), options });
  assert.equal(r.state, 'done', r.reason);
  for (const n of names) assert.equal(await onHost(n), 'one\n');
  const status = await new Promise<NodeStatus>((res) => ports.clients.get('n1')!.getStatus({}, (_e, s) => res(s!.status!)));
  assert.equal(status.generation, 1);
});

test('rollout over real agents: a failed gate spends the budget of 0; the rollout pauses and the next node is never dispatched', async () => {
  sick.add('n2');
  ports.dispatched.length = 0;
  const r = await runner().start({ specHash: 'v2', nodes: inputs('two'), options });
  assert.equal(r.state, 'paused');
  assert.match(r.reason, /error budget spent: 1 node\(s\) failed, at most 0 allowed \(n2\)/);
  assert.deepEqual(ports.dispatched.map((d) => d.node), ['n1', 'n2']);
  assert.equal(await onHost('n3'), 'one\n', 'n3 untouched');
  const s = await rolloutStatus(store, r.id);
  assert.match(s.failed[0].error, /gate: kubelet: no pass within 3000 ms \(worker gate timeout\): .*500/);
  const n2 = (await store.history({ node: 'n2' }))[0];
  assert.deepEqual([n2.result, n2.generationBefore, n2.generationAfter], ['failed', 1, 2], 'applied, then the gate failed');
  sick.delete('n2');

  // An older plan sent without the rollback flag: the agent refuses it and the host stays.
  const stale = await ports.dispatcher.dispatch({ node: 'n1', mode: 'apply', plan: inputs('one')[0].plan, revision: 'n1-one', generation: 1, rollback: false });
  assert.equal(stale.status, 'failed');
  assert.match(stale.error!, /^FAILED_PRECONDITION: STALE_GENERATION: plan generation 1 is older than generation 2/);
  assert.equal(await onHost('n1'), 'two\n');

  // Undo: the generation before, with the rollback flag; n3 never changed and is skipped.
  ports.dispatched.length = 0;
  const undo = await runner().undo(r.id);
  assert.equal(undo.state, 'done', undo.reason);
  assert.deepEqual(ports.dispatched.map((d) => [d.node, d.generation, d.rollback]), [['n1', 1, true], ['n2', 1, true]]);
  for (const n of names) assert.equal(await onHost(n), 'one\n');
  const h = await store.history({ node: 'n1' });
  assert.deepEqual([h[0].action, h[0].generationBefore, h[0].generationAfter], ['undo', 2, 1]);
});
