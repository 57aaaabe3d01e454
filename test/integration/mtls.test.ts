import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import { after, before, test } from 'node:test';
import type { Agent } from '../../agent/agent.js';
import { createCA, issueCertificate, type CertPair } from '../../controller/pki/certs.js';
import { fleetStore } from '../../controller/pki/fleet.js';
import { AgentClient, fleetChannelCredentials } from '../../controller/fleet/client.js';
import { AgentServiceClient, ApplyMode, Plan, TaskStatus, type ApplyResponse } from '../../proto/gen/muster/agent/v1/agent.js';
import { snapshot } from '../helpers/host.js';
import { makeFleet, startAgents, type TestFleet } from '../helpers/fleet.js';

let f: TestFleet;
let agents: Agent[];
let ca: CertPair;

before(async () => {
  f = await makeFleet(2);
  agents = await startAgents(f);
  ca = (await fleetStore(f.state).read('ca'))!;
});

after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await f.cleanup();
});

const plan = (node = 'n1', path = '/etc/kubernetes/manifests/x.conf'): Plan => Plan.fromPartial({
  node,
  revision: 'r1',
  handlers: [],
  tasks: [{ id: 'x', notify: [], file: { path, content: Buffer.from('x\n'), mode: 0, owner: '', group: '', secret: false } }],
});

function rawClient(creds: grpc.ChannelCredentials, port = f.inventory.nodes[0].agentPort) {
  return new AgentServiceClient(`127.0.0.1:${port}`, creds, { 'grpc.ssl_target_name_override': 'n1' });
}

function callApply(client: AgentServiceClient, p = plan(), mode = ApplyMode.APPLY_MODE_APPLY): Promise<{ events: ApplyResponse[]; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    const events: ApplyResponse[] = [];
    const call = client.apply({ mode, plan: p }, { deadline: Date.now() + 10_000 });
    call.on('data', (e) => events.push(e));
    call.on('error', (error: grpc.ServiceError) => resolve({ events, error }));
    call.on('end', () => resolve({ events }));
  });
}

const credsFor = (pair: CertPair, caPem = ca.certPem) => grpc.credentials.createSsl(Buffer.from(caPem), Buffer.from(pair.keyPem), Buffer.from(pair.certPem));

async function refusedAndUntouched(creds: grpc.ChannelCredentials, code: grpc.status) {
  const before = await snapshot(f.nodeRoot('n1'));
  const client = rawClient(creds);
  try {
    const { error, events } = await callApply(client);
    assert.ok(error, 'the call is refused');
    assert.equal(error.code, code, `${grpc.status[error.code]}: ${error.details}`);
    assert.equal(events.length, 0);
  } finally {
    client.close();
  }
  assert.deepEqual(await snapshot(f.nodeRoot('n1')), before, 'nothing written on the host');
}

test('mTLS: a client without a certificate is refused in the handshake', async () => {
  await refusedAndUntouched(grpc.credentials.createSsl(Buffer.from(ca.certPem)), grpc.status.UNAVAILABLE);
});

test('mTLS: a controller certificate from another CA is refused', async () => {
  const otherCa = createCA('intruder');
  const forged = issueCertificate(otherCa, { commonName: 'muster-controller', organizationalUnits: ['controller'], usages: ['client'] });
  await refusedAndUntouched(credsFor(forged), grpc.status.UNAVAILABLE);
});

test('mTLS: an expired controller certificate is refused', async () => {
  const expired = issueCertificate(ca, {
    commonName: 'muster-controller',
    organizationalUnits: ['controller'],
    usages: ['client'],
    notBefore: new Date(Date.now() - 10 * 86_400_000),
    notAfter: new Date(Date.now() - 86_400_000),
  });
  await refusedAndUntouched(credsFor(expired), grpc.status.UNAVAILABLE);
});

test('mTLS: an agent-role certificate may not call Apply', async () => {
  const agentCert = (await fleetStore(f.state).read('agents/n2'))!;
  await refusedAndUntouched(credsFor(agentCert), grpc.status.PERMISSION_DENIED);
});

test('mTLS: a reader may read status but not Apply', async () => {
  const reader = issueCertificate(ca, { commonName: 'dashboard', organizationalUnits: ['reader'], usages: ['client'] });
  await refusedAndUntouched(credsFor(reader), grpc.status.PERMISSION_DENIED);
  const client = rawClient(credsFor(reader));
  try {
    const status = await new Promise<{ status?: { node: string } }>((resolve, reject) => client.getStatus({}, (err, res) => (err ? reject(err) : resolve(res))));
    assert.equal(status.status?.node, 'n1');
  } finally {
    client.close();
  }
});

test('mTLS: the controller refuses an agent whose certificate names another node', async () => {
  const controller = (await fleetStore(f.state).read('controller'))!;
  // Inventory says n1 lives at n2's port: the agent there presents n2's certificate.
  const impostor = { ...f.inventory.nodes[0], agentPort: f.inventory.nodes[1].agentPort };
  const client = new AgentClient(impostor, fleetChannelCredentials({ ca, controller }));
  try {
    const out = await client.apply(plan(), ApplyMode.APPLY_MODE_APPLY, { timeoutMs: 10_000 });
    assert.match(out.error ?? '', /^n1 \(127\.0\.0\.1:\d+\) presented the wrong certificate \(agent certificate is for n2, expected n1\)/);
    await assert.rejects(fs.stat(`${f.nodeRoot('n2')}/etc/kubernetes/manifests/x.conf`));
  } finally {
    client.close();
  }
});

test('Apply: a path outside the allowed trees is refused before any I/O', async () => {
  const controller = (await fleetStore(f.state).read('controller'))!;
  const client = rawClient(credsFor(controller));
  const before = await snapshot(f.nodeRoot('n1'));
  try {
    for (const path of ['/etc/passwd', '/etc/kubernetes/../../root/.ssh/authorized_keys', '/etc/kubernetes/a\0b']) {
      const { events, error } = await callApply(client, plan('n1', path));
      assert.equal(error, undefined);
      const task = events[0].task!;
      assert.equal(task.status, TaskStatus.TASK_STATUS_FAILED);
      assert.equal(task.errorCode, 'PATH_NOT_ALLOWED', path);
      assert.equal(events[1].summary?.failedTask, 'x');
    }
  } finally {
    client.close();
  }
  assert.deepEqual(await snapshot(f.nodeRoot('n1')), before);
});

test('Apply: a plan addressed to another node is refused', async () => {
  const controller = (await fleetStore(f.state).read('controller'))!;
  const client = rawClient(credsFor(controller));
  try {
    const { error } = await callApply(client, plan('n2'));
    assert.equal(error?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(error!.details, /the plan is for node n2, this agent is n1/);
  } finally {
    client.close();
  }
});

test('Apply: the controller certificate converges the node, streaming one event per task then a summary', async () => {
  const controller = (await fleetStore(f.state).read('controller'))!;
  const client = rawClient(credsFor(controller));
  try {
    const first = await callApply(client);
    assert.deepEqual(first.events.map((e) => (e.task ? TaskStatus[e.task.status] : 'summary')), ['TASK_STATUS_CHANGED', 'summary']);
    assert.equal(await fs.readFile(`${f.nodeRoot('n1')}/etc/kubernetes/manifests/x.conf`, 'utf8'), 'x\n');
    const second = await callApply(client);
    assert.equal(second.events[0].task?.status, TaskStatus.TASK_STATUS_OK);
    assert.equal(second.events[1].summary?.converged, true);
  } finally {
    client.close();
  }
});

test('GetFacts: the controller reads the machine through the agent; cached until refreshed', async () => {
  const controller = (await fleetStore(f.state).read('controller'))!;
  const client = new AgentClient(f.inventory.nodes[0], fleetChannelCredentials({ ca, controller }));
  try {
    const first = (await client.facts(false)).facts!;
    assert.equal(first.hostname, os.hostname());
    assert.ok(first.cpu!.cores >= 1);
    assert.ok(first.memory!.totalBytes > 0);
    assert.ok(first.interfaces.some((i) => i.name === 'lo' && i.addresses.includes('127.0.0.1')));
    assert.match(first.kernel, /^\d+\.\d+/);
    const cached = (await client.facts(false)).facts!;
    assert.equal(cached.collectedAtMs, first.collectedAtMs, 'served from the cache');
    const fresh = (await client.facts(true)).facts!;
    assert.ok(fresh.collectedAtMs >= first.collectedAtMs);
  } finally {
    client.close();
  }
});

test('SnapshotEtcd: a reader may list snapshots but not take one; a node without etcd in its plan says so', async () => {
  const reader = issueCertificate(ca, { commonName: 'dashboard', organizationalUnits: ['reader'], usages: ['client'] });
  const asReader = rawClient(credsFor(reader));
  const asController = rawClient(credsFor((await fleetStore(f.state).read('controller'))!));
  const unary = <T>(fn: (cb: (err: grpc.ServiceError | null, res?: T) => void) => void) => new Promise<{ err: grpc.ServiceError | null; res?: T }>((resolve) => fn((err, res) => resolve({ err, res })));
  try {
    const refused = await unary((cb) => asReader.snapshotEtcd({ keep: 0 }, cb));
    assert.equal(refused.err?.code, grpc.status.PERMISSION_DENIED);
    assert.match(refused.err!.details, /SnapshotEtcd needs a controller certificate/);
    const listed = await unary<{ snapshots: unknown[] }>((cb) => asReader.listEtcdSnapshots({}, cb));
    assert.equal(listed.err, null);
    assert.deepEqual(listed.res?.snapshots, []);
    const noEtcd = await unary((cb) => asController.snapshotEtcd({ keep: 0 }, cb));
    assert.equal(noEtcd.err?.code, grpc.status.FAILED_PRECONDITION);
    assert.match(noEtcd.err!.details, /ETCD_NOT_PLANNED: this node's plan has no etcd probe/);
  } finally {
    asReader.close();
    asController.close();
  }
});
