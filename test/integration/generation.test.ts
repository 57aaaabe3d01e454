import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { Agent } from '../../agent/agent.js';
import { fleetStore } from '../../controller/pki/fleet.js';
import { AgentServiceClient, ApplyMode, Plan, TaskStatus, type ApplyRequest, type ApplyResponse, type NodeStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { snapshot } from '../helpers/host.js';
import { makeFleet, startAgents, type TestFleet } from '../helpers/fleet.js';

// Plans carry a generation that only grows: the agent refuses an older one over real mTLS
// gRPC unless the request is a rollback.
let f: TestFleet;
let agents: Agent[];
let client: AgentServiceClient;

before(async () => {
  f = await makeFleet(1);
  agents = await startAgents(f);
  const store = fleetStore(f.state);
  const [ca, controller] = [(await store.read('ca'))!, (await store.read('controller'))!];
  const creds = grpc.credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(controller.keyPem), Buffer.from(controller.certPem));
  client = new AgentServiceClient(`127.0.0.1:${f.inventory.nodes[0].agentPort}`, creds, { 'grpc.ssl_target_name_override': 'n1' });
});

after(async () => {
  client.close();
  await Promise.all(agents.map((a) => a.stop()));
  await f.cleanup();
});

const manifest = '/etc/kubernetes/manifests/gen.conf';
const plan = (content: string): Plan => Plan.fromPartial({
  node: 'n1',
  revision: `r-${content}`,
  tasks: [{ id: 'gen', file: { path: manifest, content: Buffer.from(content) } }],
});

function apply(req: Partial<ApplyRequest>): Promise<{ events: ApplyResponse[]; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    const events: ApplyResponse[] = [];
    const call = client.apply({ mode: ApplyMode.APPLY_MODE_APPLY, ...req }, { deadline: Date.now() + 10_000 });
    call.on('data', (e) => events.push(e));
    call.on('error', (error: grpc.ServiceError) => resolve({ events, error }));
    call.on('end', () => resolve({ events }));
  });
}

const status = () => new Promise<NodeStatus>((resolve, reject) => client.getStatus({}, (err, res) => (err ? reject(err) : resolve(res!.status!))));
const onHost = () => fs.readFile(`${f.nodeRoot('n1')}${manifest}`, 'utf8');

test('generation: a newer plan applies and the status reports its generation', async () => {
  assert.equal((await status()).generation, 0, 'nothing applied with a generation yet');
  const first = await apply({ plan: plan('one\n'), generation: 4 });
  assert.equal(first.error, undefined);
  const second = await apply({ plan: plan('two\n'), generation: 5 });
  assert.equal(second.events.at(-1)?.summary?.changed, 1);
  assert.equal((await status()).generation, 5);
  assert.equal(await onHost(), 'two\n');
});

test('generation: a stale plan is refused with FAILED_PRECONDITION, naming both generations, host untouched', async () => {
  const host = await snapshot(f.nodeRoot('n1'));
  const { events, error } = await apply({ plan: plan('one\n'), generation: 4 });
  assert.ok(error, 'refused');
  assert.equal(error.code, grpc.status.FAILED_PRECONDITION);
  assert.match(error.details, /^STALE_GENERATION: plan generation 4 is older than generation 5/);
  assert.equal(events.length, 0);
  assert.deepEqual(await snapshot(f.nodeRoot('n1')), host, 'nothing written on the host');
  assert.equal((await status()).generation, 5);
});

test('generation: check mode is refused the same way for a stale plan', async () => {
  const { error } = await apply({ plan: plan('one\n'), generation: 3, mode: ApplyMode.APPLY_MODE_CHECK });
  assert.equal(error?.code, grpc.status.FAILED_PRECONDITION);
});

test('generation: the same stale plan with rollback is accepted, and the agent keeps the previous plan', async () => {
  const { events, error } = await apply({ plan: plan('one\n'), generation: 4, rollback: true });
  assert.equal(error, undefined);
  assert.equal(events.find((e) => e.task)?.task?.status, TaskStatus.TASK_STATUS_CHANGED);
  assert.equal(await onHost(), 'one\n');
  assert.equal((await status()).generation, 4);
  const previous = await agents[0].engine.state.previousPlan();
  assert.equal(previous?.revision, 'r-two\n', 'the plan before the rollback is kept beside the current one');
});

test('generation: a plain apply (generation unset) keeps working and leaves the generation as it was', async () => {
  const { events, error } = await apply({ plan: plan('plain\n') });
  assert.equal(error, undefined);
  assert.equal(events.at(-1)?.summary?.converged, true);
  assert.equal((await status()).generation, 4);
});
