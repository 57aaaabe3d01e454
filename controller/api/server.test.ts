import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { serve, type Listening } from '../app/serve.js';
import { RevocationList } from '../enroll/revocations.js';
import { createCA, issueCertificate } from '../pki/certs.js';
import { fleetStore } from '../pki/fleet.js';
import { openStore } from '../store/sqlite.js';
import type { RolloutRecord, Store } from '../store/store.js';
import { ApiError, ControllerClient } from './client.js';
import { apiClient } from '../../test/helpers/api.js';
import { makeFleet, type TestFleet } from '../../test/helpers/fleet.js';

// muster serve's API over real mutual TLS on loopback: every kind of caller against every
// route. No agents run: the fleet view shows them unreachable, which is all these routes need.

let f: TestFleet;
let server: Listening;
let store: Store;
const clients: Record<string, ControllerClient> = {};
let caPem: string;

const READS = ['/v1/whoami', '/v1/leader', '/v1/fleet', '/v1/nodes/n1', '/v1/rollouts', '/v1/rollouts/r-1', '/v1/history', '/metrics'];
const WRITES = ['/v1/rollouts/r-1/pause', '/v1/rollouts/r-1/abort'];

const call = async (c: ControllerClient, method: string, route: string, body?: unknown) => {
  try {
    if (route === '/metrics') return { status: 200, body: await c.text(route) };
    return { status: 200, body: await c.request<unknown>(method, route, body) };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { status: err.status, code: err.code, body: err.message };
  }
};

async function newRollout(id: string): Promise<RolloutRecord> {
  return store.createRollout({ id, specHash: 'h', options: {}, state: 'running', reason: '', operator: { user: 'test', host: 'here' }, createdAtMs: Date.now() }, [{ index: 0, role: 'worker', label: '', nodes: ['n1'], generations: { n1: 1 }, pauseAfter: false }]);
}

before(async () => {
  f = await makeFleet(1);
  server = await serve({ state: f.state, inventory: f.inventoryFile, listen: '127.0.0.1:0', enroll: false });
  store = openStore(f.state);
  await newRollout('r-1');
  const pki = fleetStore(f.state);
  caPem = (await pki.read('ca'))!.certPem;
  const pair = async (name: string) => (await pki.read(name))!;
  clients.operator = await apiClient(f.state, server.url, 'operator', 'alice');
  clients.reader = await apiClient(f.state, server.url, 'reader', 'grafana');
  const controller = await pair('controller');
  clients.controller = new ControllerClient(server.url, { certPem: controller.certPem, keyPem: controller.keyPem, caPem });
  const agent = await pair('agents/n1');
  clients.agent = new ControllerClient(server.url, { certPem: agent.certPem, keyPem: agent.keyPem, caPem });
  clients.none = new ControllerClient(server.url, { caPem });
  const otherCa = createCA('another fleet');
  const stranger = issueCertificate(otherCa, { commonName: 'alice', organizationalUnits: ['operator'], usages: ['client'] });
  clients.otherCa = new ControllerClient(server.url, { certPem: stranger.certPem, keyPem: stranger.keyPem, caPem });
});

after(async () => {
  for (const c of Object.values(clients)) c.close();
  store.close();
  await server.close();
  await f.cleanup();
});

test('api: operator and controller certificates read every route; a reader reads every route too', async () => {
  for (const who of ['operator', 'controller', 'reader']) {
    for (const route of READS) {
      const r = await call(clients[who], 'GET', route);
      assert.equal(r.status, 200, `${who} GET ${route}: ${String(r.body)}`);
    }
  }
  assert.deepEqual(await clients.operator.get('/v1/whoami'), { cn: 'alice', role: 'operator', canWrite: true });
  assert.deepEqual(await clients.reader.get('/v1/whoami'), { cn: 'grafana', role: 'reader', canWrite: false });
  const leader = await clients.reader.get<{ self: { id: string; leader: boolean; store: string }; leader?: { id: string } }>('/v1/leader');
  assert.equal(leader.self.leader, true);
  assert.equal(leader.leader?.id, leader.self.id);
  assert.match(leader.self.store, /^sqlite .*muster\.db$/);
  const status = await clients.reader.get<{ rollout: RolloutRecord; nodes: { node: string; step: string }[] }>('/v1/rollouts/r-1');
  assert.equal(status.rollout.state, 'running');
  assert.deepEqual(status.nodes.map((n) => [n.node, n.step]), [['n1', 'pending']]);
  assert.match(await clients.reader.text('/metrics'), /muster_fleet_nodes\{state="unreachable"\} 1/);
});

test('api: a reader\'s POST is refused with ROLE_REFUSED and changes nothing; an operator pauses, then aborts, named in the history', async () => {
  for (const route of WRITES) {
    const r = await call(clients.reader, 'POST', route, { reason: 'not mine to do' });
    assert.equal(r.status, 403, route);
    assert.equal(r.code, 'ROLE_REFUSED');
  }
  assert.equal((await store.rollout('r-1'))!.state, 'running');
  assert.equal((await store.history()).filter((h) => h.action === 'pause' || h.action === 'abort').length, 0);
  const paused = await clients.operator.post<RolloutRecord>('/v1/rollouts/r-1/pause', { reason: 'lunch' });
  assert.equal(paused.state, 'paused');
  assert.match(paused.reason, /^paused by alice@api 127\.0\.0\.1: lunch$/);
  const aborted = await clients.controller.post<RolloutRecord>('/v1/rollouts/r-1/abort', {});
  assert.equal(aborted.state, 'aborted');
  const h = await clients.reader.get<{ entries: { action: string; operator: { user: string } }[] }>('/v1/history?limit=2');
  assert.deepEqual(h.entries.map((e) => [e.action, e.operator.user]), [['abort', 'muster-controller'], ['pause', 'alice']]);
  const again = await call(clients.operator, 'POST', '/v1/rollouts/r-1/pause', {});
  assert.deepEqual([again.status, again.code], [409, 'ROLLOUT_REFUSED']);
});

test('api: no certificate, an agent certificate and another CA\'s are refused everywhere but /healthz', async () => {
  for (const [who, status, code] of [['none', 401, 'NOT_AUTHENTICATED'], ['otherCa', 401, 'NOT_AUTHENTICATED'], ['agent', 403, 'ROLE_REFUSED']] as const) {
    for (const route of READS) {
      const r = await call(clients[who], 'GET', route);
      assert.deepEqual([r.status, r.code], [status, code], `${who} GET ${route}`);
    }
    for (const route of WRITES) {
      const r = await call(clients[who], 'POST', route, {});
      assert.deepEqual([r.status, r.code], [status, code], `${who} POST ${route}`);
    }
    assert.deepEqual(await clients[who].get('/healthz'), { status: 'ok' });
    const events = await new Promise<Error | undefined>((resolve) => clients[who].events(() => undefined, resolve));
    assert.equal((events as ApiError).status, status, `${who} GET /v1/events`);
  }
});

test('api: a revoked operator certificate is refused, on a connection it already had open too', async () => {
  const mallory = await apiClient(f.state, server.url, 'operator', 'mallory');
  try {
    assert.equal((await mallory.get<{ cn: string }>('/v1/whoami')).cn, 'mallory');
    const cert = (await fleetStore(f.state).read('operators/mallory'))!;
    const { X509Certificate } = await import('node:crypto');
    const x = new X509Certificate(cert.certPem);
    await fs.mkdir(path.join(f.state, 'enroll'), { recursive: true });
    await new RevocationList(path.join(f.state, 'enroll')).add([{ serial: x.serialNumber, name: 'mallory', role: 'operator', revokedAt: new Date().toISOString(), notAfter: new Date(x.validTo).toISOString() }]);
    // serve re-reads the list every 5 s.
    const deadline = Date.now() + 10_000;
    let r = await call(mallory, 'GET', '/v1/whoami');
    while (r.status === 200 && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 200));
      r = await call(mallory, 'GET', '/v1/whoami');
    }
    assert.deepEqual([r.status, r.code], [403, 'CERT_REVOKED']);
    await newRollout('r-2');
    const w = await call(mallory, 'POST', '/v1/rollouts/r-2/pause', {});
    assert.deepEqual([w.status, w.code], [403, 'CERT_REVOKED']);
    assert.equal((await store.rollout('r-2'))!.state, 'running');
  } finally {
    mallory.close();
    const r2 = await store.rollout('r-2');
    if (r2) await store.updateRollout('r-2', r2.revision, { state: 'aborted', reason: 'test over' }, Date.now());
  }
});

test('api: a body over 64 KiB, bad JSON, unknown fields and bad limits are refused and change nothing', async () => {
  await newRollout('r-3');
  const big = await call(clients.operator, 'POST', '/v1/rollouts/r-3/pause', { reason: 'x'.repeat(100 * 1024) });
  assert.deepEqual([big.status, big.code], [413, 'REQUEST_TOO_LARGE']);
  const long = await call(clients.operator, 'POST', '/v1/rollouts/r-3/pause', { reason: 'x'.repeat(2000) });
  assert.deepEqual([long.status, long.code], [400, 'REQUEST_INVALID']);
  const unknown = await call(clients.operator, 'POST', '/v1/rollouts/r-3/pause', { reason: 'a', force: true });
  assert.deepEqual([unknown.status, unknown.code], [400, 'REQUEST_INVALID']);
  // Bad JSON needs the raw request: the client only sends what JSON.stringify made.
  const https = await import('node:https');
  const operator = (await fleetStore(f.state).read('operators/alice'))!;
  const bad = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = https.request(new URL('/v1/rollouts/r-3/pause', server.url), { method: 'POST', cert: operator.certPem, key: operator.keyPem, ca: caPem, headers: { 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end('{"reason": ');
  });
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.body).error, 'REQUEST_INVALID');
  for (const q of ['limit=0', 'limit=abc', 'limit=100000']) {
    const r = await call(clients.reader, 'GET', `/v1/rollouts?${q}`);
    assert.deepEqual([r.status, r.code], [400, 'REQUEST_INVALID'], q);
  }
  const nf = await call(clients.reader, 'GET', '/v1/nope');
  assert.deepEqual([nf.status, nf.code], [404, 'ROUTE_NOT_FOUND']);
  assert.equal((await store.rollout('r-3'))!.state, 'running');
  await clients.operator.post('/v1/rollouts/r-3/abort', { reason: 'test over' });
});

test('api: GET /v1/events streams a rollout state change made through the API to a reader', async () => {
  await newRollout('r-4');
  const seen: { name: string; data: unknown }[] = [];
  const stream = clients.reader.events((name, data) => seen.push({ name, data }));
  try {
    await stream.opened;
    await clients.operator.post('/v1/rollouts/r-4/pause', {});
    for (const deadline = Date.now() + 5000; !seen.some((e) => e.name === 'rollout') && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    const ev = seen.find((e) => e.name === 'rollout' && (e.data as RolloutRecord).id === 'r-4');
    assert.ok(ev, `a rollout event among ${JSON.stringify(seen.map((e) => e.name))}`);
    assert.equal((ev.data as RolloutRecord).state, 'paused');
  } finally {
    stream.close();
  }
});
