import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { startAgent, type Agent } from '../../agent/agent.js';
import { manifestHash, stampManifest } from '../../common/manifest-hash.js';
import type { ApiError } from '../../controller/api/client.js';
import { serve } from '../../controller/app/serve.js';
import { Fleet } from '../../controller/fleet/fleet.js';
import { readFleetCredentials } from '../../controller/pki/fleet.js';
import { ApplyMode, Plan, ProbeState, type DriftEvent, type WatchStatusResponse } from '../../proto/gen/muster/agent/v1/agent.js';
import { agentTls, freePort, makeFleet, repoRoot, type TestFleet } from '../helpers/fleet.js';
import { fakeCrictl, type FakeCrictl } from '../helpers/crictl.js';
import { silent } from '../helpers/host.js';
import { apiClient } from '../helpers/api.js';

const exec = promisify(execFile);
let f: TestFleet;
let agent: Agent;
let fleet: Fleet;
let kubelet: http.Server;
let kubeletPort: number;
let httpPort: number;
let crictl: FakeCrictl;

const manifest = 'apiVersion: v1\nkind: Pod\nmetadata: { name: etcd, namespace: kube-system }\nspec:\n  containers: [{ name: etcd, image: registry.k8s.io/etcd:3.5.15-0 }]\n';

// As the agent writes it: stamped with its hash.
const written = stampManifest(manifest).toString();

// A stand-in kubelet: only its /healthz endpoint, which is all the kubelet probe reads.
function startKubelet(port: number): Promise<http.Server> {
  const srv = http.createServer((req, res) => {
    res.writeHead(req.url === '/healthz' ? 200 : 404);
    res.end(req.url === '/healthz' ? 'ok' : '');
  });
  return new Promise((resolve) => srv.listen(port, '127.0.0.1', () => resolve(srv)));
}

before(async () => {
  f = await makeFleet(1);
  kubeletPort = await freePort();
  kubelet = await startKubelet(kubeletPort);
  const node = f.inventory.nodes[0];
  await fs.mkdir(f.nodeRoot(node.name), { recursive: true });
  // The container runtime runs the planned pod: its sandbox carries the manifest's hash.
  crictl = await fakeCrictl(path.join(f.nodeRoot(node.name), '..', 'crictl'), node.name);
  await crictl.set([{ name: 'etcd', hash: manifestHash(manifest) }]);
  agent = await startAgent({
    name: node.name,
    root: f.nodeRoot(node.name),
    listen: { host: node.address, port: node.agentPort },
    http: { host: '127.0.0.1', port: 0 },
    tls: await agentTls(f, node.name),
    log: silent,
    drift: { debounceMs: 10, recheckMs: 3_600_000 },
    runtime: { crictl: crictl.path },
  });
  httpPort = agent.httpPort!;
  fleet = new Fleet(f.inventory.nodes, await readFleetCredentials(f.state));
  const plan = Plan.fromPartial({
    node: node.name,
    revision: 'r1',
    tasks: [{ id: 'etcd-manifest', staticPod: { name: 'etcd', manifest } }],
    probes: [{ name: 'kubelet', intervalMs: 200, timeoutMs: 500, http: { url: `http://127.0.0.1:${kubeletPort}/healthz`, insecure: true } }],
  });
  const out = await fleet.run([plan], { mode: ApplyMode.APPLY_MODE_APPLY, concurrency: 1, timeoutMs: 10_000 });
  assert.equal(out[0].summary?.converged, true, out[0].error);
});

after(async () => {
  fleet?.close();
  await agent?.stop();
  kubelet?.close();
  await f?.cleanup();
});

function until<T>(what: string, ms: number, poll: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = async () => {
      const v = await poll();
      if (v !== undefined) return resolve(v);
      if (Date.now() > deadline) return reject(new Error(`${what}: not within ${ms} ms`));
      setTimeout(tick, 50);
    };
    void tick();
  });
}

async function muster(...args: string[]) {
  try {
    return { code: 0, ...(await exec(process.execPath, [path.join(repoRoot, 'bin/muster.js'), '-s', f.state, '-i', f.inventoryFile, ...args])) };
  } catch (err) {
    return err as { code: number; stdout: string; stderr: string };
  }
}

test('live: a deleted manifest comes back, the stream tells the controller, and muster status shows it', async () => {
  const events: WatchStatusResponse[] = [];
  const cancel = fleet.client(f.inventory.nodes[0]).watch((e) => events.push(e), () => {});
  try {
    await until('the first status', 5000, () => events.find((e) => e.status) ?? undefined);
    const file = path.join(f.nodeRoot('n1'), 'etc/kubernetes/manifests/etcd.yaml');
    await fs.rm(file);
    const drift = await until<DriftEvent>('a drift event on the stream', 5000, () => events.find((e) => e.drift)?.drift);
    assert.deepEqual([drift.taskId, drift.path, drift.what, drift.repaired], ['etcd-manifest', '/etc/kubernetes/manifests/etcd.yaml', 'deleted', true]);
    assert.equal(await fs.readFile(file, 'utf8'), written);
    const status = await until('a status counting the repair', 5000, () => events.map((e) => e.status).filter(Boolean).find((s) => s!.driftRepaired === 1));
    assert.equal(status!.lastDrift?.taskId, 'etcd-manifest');
  } finally {
    cancel();
  }
  const out = await muster('status');
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /^n1\s+etcd,control-plane\s+yes\s+r1\s+converged\s+\d+s\s+yes\s+2\/2 healthy\s+1 repaired\s+-\s+last drift \d+s ago: \/etc\/kubernetes\/manifests\/etcd\.yaml deleted, repaired$/m);
});

test('live: a failing probe names the probe, the last error and since when; health over a real socket', async () => {
  assert.equal((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status, 200);
  assert.equal((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status, 200);
  await new Promise<void>((r) => kubelet.close(() => r()));
  await until('the probe to fail', 5000, () => (agent.hub.current().probes[0]?.state === ProbeState.PROBE_STATE_FAILED ? true : undefined));
  const readyz = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
  assert.equal(readyz.status, 503);
  assert.match((await readyz.json()).reason, /^probe kubelet failed since \S+Z: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
  const out = await muster('status');
  assert.match(out.stdout, /n1 .* no\s+1\/2 healthy .* kubelet failed for \d+s: connect ECONNREFUSED/);
  const statusJson = await (await fetch(`http://127.0.0.1:${httpPort}/status`)).json();
  assert.equal(statusJson.probes[0].state, 'PROBE_STATE_FAILED');
  kubelet = await startKubelet(kubeletPort);
  await until('the probe to recover', 5000, () => (agent.hub.current().probes[0]?.state === ProbeState.PROBE_STATE_HEALTHY ? true : undefined));
  assert.match(agent.hub.current().probes[0].lastError, /ECONNREFUSED/, 'the last error is kept after recovery');
});

test('live: muster serve reports the fleet from the agents\' streams, and an unreachable node with since when', async () => {
  const inventory = path.join(f.dir, 'with-gone.yaml');
  await fs.writeFile(inventory, (await fs.readFile(f.inventoryFile, 'utf8')) + '  - { name: gone, address: 127.0.0.1, agentPort: 1, roles: [worker] }\n');
  const server = await serve({ state: f.state, inventory, listen: '127.0.0.1:0', enroll: false });
  const api = await apiClient(f.state, server.url, 'reader');
  try {
    type Fleet = { summary: object; nodes: { node: string; error?: string; errorSince?: string }[] };
    const fleetView = await until('n1 ready and gone unreachable', 10_000, async () => {
      const v = await api.get<Fleet>('/v1/fleet');
      const gone = v.nodes.find((n) => n.node === 'gone');
      return gone?.error && gone.error !== 'connecting' && v.nodes.find((n) => n.node === 'n1' && !n.error) ? v : undefined;
    });
    assert.deepEqual(fleetView.summary, { total: 2, ready: 1, unreachable: 1 });
    const gone = fleetView.nodes.find((n) => n.node === 'gone')!;
    assert.match(gone.error!, /^gone \(127\.0\.0\.1:\d+\) refused the connection: check that musterd runs on gone/);
    assert.match(gone.errorSince!, /^\d{4}-\d\d-\d\dT/);
    assert.equal((await api.get<{ status: { revision: string } }>('/v1/nodes/n1')).status.revision, 'r1');
    await assert.rejects(api.get('/v1/nodes/nope'), (e: ApiError) => e.status === 404 && e.code === 'UNKNOWN_NODE');
    assert.match(await api.text('/metrics'), /muster_fleet_nodes\{state="unreachable"\} 1/);
  } finally {
    api.close();
    await server.close();
  }
});

test('live: with no controller at all, a restarted agent repairs from the plan on disk', async () => {
  const node = f.inventory.nodes[0];
  await agent.stop();
  const file = path.join(f.nodeRoot(node.name), 'etc/kubernetes/manifests/etcd.yaml');
  await fs.writeFile(file, 'edited while the agent was down\n');
  agent = await startAgent({
    name: node.name,
    root: f.nodeRoot(node.name),
    listen: { host: node.address, port: node.agentPort },
    http: false,
    tls: await agentTls(f, node.name),
    log: silent,
    drift: { debounceMs: 10, recheckMs: 3_600_000 },
    runtime: { crictl: crictl.path },
  });
  // It serves first and repairs in the background.
  await agent.converged;
  assert.equal(await fs.readFile(file, 'utf8'), written, 'the start-up check put it back');
  assert.equal(agent.hub.current().lastDrift?.what, 'recheck');
  await fs.rm(file);
  await until('the deletion to be repaired', 5000, async () => (await fs.readFile(file, 'utf8').catch(() => '')) === written || undefined);
  assert.equal(agent.hub.current().driftRepaired, 2);
});
