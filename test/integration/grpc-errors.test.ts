import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import type { Agent } from '../../agent/agent.js';
import { startAgent } from '../../agent/agent.js';
import { AgentClient, fleetChannelCredentials } from '../../controller/fleet/client.js';
import type { InventoryNode } from '../../controller/inputs/inventory.js';
import { createCA, issueCertificate } from '../../controller/pki/certs.js';
import { fleetStore, readFleetCredentials, type FleetCredentials } from '../../controller/pki/fleet.js';
import { agentTls, freePort, makeFleet, type TestFleet } from '../helpers/fleet.js';
import { silent } from '../helpers/host.js';

// Each failure a controller meets, from a real socket or a real agent, as the sentence it prints.
let f: TestFleet;
let creds: FleetCredentials;
const agents: Agent[] = [];
const servers: net.Server[] = [];
const sockets: net.Socket[] = [];

const node = (name: string, agentPort: number): InventoryNode => ({ name, address: '127.0.0.1', hostname: name, agentPort, roles: ['worker'], labels: {} });

async function statusError(n: InventoryNode, c: FleetCredentials = creds, timeoutMs = 10_000): Promise<string> {
  const client = new AgentClient(n, fleetChannelCredentials(c));
  try {
    await client.status(timeoutMs);
    return 'no error';
  } catch (err) {
    return (err as Error).message;
  } finally {
    client.close();
  }
}

before(async () => {
  f = await makeFleet(2, 'm');
  creds = await readFleetCredentials(f.state);
});

after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
  await f.cleanup();
});

const assertSentence = (message: string) => {
  assert.doesNotMatch(message, /Resolution note|No connection established|\n/, message);
  assert.match(message, /^m\d \(127\.0\.0\.1:\d+\) /, message);
};

test('grpc errors: a port with nothing listening is "refused the connection", with what to check', async () => {
  const port = await freePort();
  const message = await statusError(node('m1', port));
  assertSentence(message);
  assert.match(message, new RegExp(`^m1 \\(127\\.0\\.0\\.1:${port}\\) refused the connection: check that musterd runs on m1 and listens on port ${port}`));
});

test('grpc errors: a peer that accepts and never answers is a deadline, with the seconds waited', async () => {
  const server = net.createServer((s) => void sockets.push(s));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const message = await statusError(node('m1', port), creds, 1500);
  assertSentence(message);
  assert.match(message, /did not answer within 2 s: the agent may be busy or the network slow/);
});

test('grpc errors: an agent with a certificate from another CA fails the TLS handshake, and the sentence says which CA to install', async () => {
  const other = createCA('another fleet');
  const pair = issueCertificate(other, { commonName: 'm1', organizationalUnits: ['agent'], dnsNames: ['m1'], ipAddresses: ['127.0.0.1'], usages: ['server', 'client'] });
  const port = await freePort();
  agents.push(await startAgent({ name: 'm1', root: f.nodeRoot('m1'), listen: { host: '127.0.0.1', port }, http: false, tls: { ca: Buffer.from(other.certPem), cert: Buffer.from(pair.certPem), key: Buffer.from(pair.keyPem) }, log: silent }));
  const message = await statusError(node('m1', port));
  assertSentence(message);
  assert.match(message, /failed the TLS handshake \(.+\): the agent's certificate must come from this fleet's CA/);
});

test('grpc errors: an address that now answers as another node names both', async () => {
  const port = await freePort();
  agents.push(await startAgent({ name: 'm2', root: f.nodeRoot('m2'), listen: { host: '127.0.0.1', port }, http: false, tls: await agentTls(f, 'm2'), log: silent }));
  const message = await statusError(node('m1', port));
  assertSentence(message);
  assert.match(message, /presented the wrong certificate \(agent certificate is for m2, expected m1\): the address may now belong to another machine/);
});

test('grpc errors: a call the agent refuses for the caller\'s role is PERMISSION_DENIED in words', async () => {
  const port = await freePort();
  agents.push(await startAgent({ name: 'm1', root: f.nodeRoot('m1'), listen: { host: '127.0.0.1', port }, http: false, tls: await agentTls(f, 'm1'), log: silent }));
  const ca = (await fleetStore(f.state).read('ca'))!;
  const agentRole = issueCertificate(ca, { commonName: 'not-a-controller', organizationalUnits: ['agent'], usages: ['client'] });
  const message = await statusError(node('m1', port), { ca, controller: agentRole });
  assertSentence(message);
  assert.match(message, /refused the call \(GetStatus needs a .*certificate; not-a-controller has role agent\): use the controller certificate made by "muster init"/);
});
