import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startAgent, type Agent } from '../../agent/agent.js';
import { fleetStore, initFleet } from '../../controller/pki/fleet.js';
import { loadInventory, type Inventory } from '../../controller/inputs/inventory.js';
import { ApplyMode } from '../../proto/gen/muster/agent/v1/agent.js';
import { silent } from './host.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface TestFleet {
  dir: string;
  state: string;
  inventoryFile: string;
  inventory: Inventory;
  nodeRoot(name: string): string;
  cleanup(): Promise<void>;
}

// A temp folder with an inventory of n nodes on loopback ports, and the fleet PKI made by initFleet.
export async function makeFleet(n: number, prefix = 'n'): Promise<TestFleet> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-fleet-'));
  // A port just freed is often handed out again: draw until every node has its own.
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  const nodes = [...ports].map((port, i) => `  - { name: ${prefix}${i + 1}, address: 127.0.0.1, agentPort: ${port}, roles: [etcd, control-plane] }`);
  const inventoryFile = path.join(dir, 'inventory.yaml');
  await fs.writeFile(inventoryFile, `cluster: test\nnodes:\n${nodes.join('\n')}\n`);
  const inventory = await loadInventory(inventoryFile);
  const state = path.join(dir, 'state');
  await initFleet(state, inventory);
  return {
    dir,
    state,
    inventoryFile,
    inventory,
    nodeRoot: (name) => path.join(dir, 'nodes', name),
    cleanup: () => fs.rm(dir, { recursive: true, force: true }),
  };
}

export async function agentTls(f: TestFleet, name: string) {
  const store = fleetStore(f.state);
  const [ca, pair] = [await store.read('ca'), await store.read(`agents/${name}`)];
  return { ca: Buffer.from(ca!.certPem), cert: Buffer.from(pair!.certPem), key: Buffer.from(pair!.keyPem) };
}

// Agents in this process, one per inventory node. If one cannot start (its port taken), the
// others are stopped again, so a failed start leaves nothing running.
export async function startAgents(f: TestFleet): Promise<Agent[]> {
  const started = await Promise.allSettled(
    f.inventory.nodes.map(async (node) => {
      await fs.mkdir(f.nodeRoot(node.name), { recursive: true });
      return startAgent({
        name: node.name,
        root: f.nodeRoot(node.name),
        listen: { host: node.address, port: node.agentPort },
        http: false,
        tls: await agentTls(f, node.name),
        log: silent,
      });
    }),
  );
  const failed = started.find((r) => r.status === 'rejected');
  const agents = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (!failed) return agents;
  await Promise.all(agents.map((a) => a.stop()));
  throw failed.reason;
}

// Agents as separate musterd processes, as on real nodes; http: a node's --http value (default
// off); main: the program to run (default bin/musterd.js; benches pass the built agent).
export async function spawnAgents(f: TestFleet, o: { http?: (name: string) => string; main?: string } = {}): Promise<{ procs: ChildProcess[]; stop(): Promise<void> }> {
  const procs: ChildProcess[] = [];
  const store = fleetStore(f.state);
  for (const node of f.inventory.nodes) {
    await fs.mkdir(f.nodeRoot(node.name), { recursive: true });
    const p = spawn(process.execPath, [
      o.main ?? path.join(repoRoot, 'bin/musterd.js'),
      '--name', node.name,
      '--listen', `${node.address}:${node.agentPort}`,
      '--http', o.http?.(node.name) ?? 'off',
      '--root', f.nodeRoot(node.name),
      '--tls-ca', store.file('ca', 'crt'),
      '--tls-cert', store.file(`agents/${node.name}`, 'crt'),
      '--tls-key', store.file(`agents/${node.name}`, 'key'),
      '--log-level', 'warn',
    ], { stdio: ['ignore', 'inherit', 'inherit'] });
    procs.push(p);
  }
  await Promise.all(f.inventory.nodes.map((n) => waitForPort(n.address, n.agentPort, 20_000))).catch((err: unknown) => {
    // One that did not come up (its port taken meanwhile): the others must not outlive the test.
    for (const p of procs) p.kill('SIGTERM');
    throw err;
  });
  return {
    procs,
    async stop() {
      await Promise.all(procs.map((p) => new Promise<void>((resolve) => {
        if (p.exitCode !== null) return resolve();
        p.once('exit', () => resolve());
        p.kill('SIGTERM');
      })));
    },
  };
}

export async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', (e) => {
        last = e.message;
        resolve(false);
      });
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${host}:${port} did not open within ${timeoutMs} ms: ${last}`);
}

// The real CLI process (bin/muster.js, the built bundle) on the fleet's state and inventory.
export async function runMuster(f: Pick<TestFleet, 'state' | 'inventoryFile'>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const exec = promisify(execFile);
  try {
    const { stdout, stderr } = await exec(process.execPath, [path.join(repoRoot, 'bin/muster.js'), '-s', f.state, '-i', f.inventoryFile, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

// Apply calls (mode apply) that reach each agent's engine over gRPC, by node; drift repairs are
// not counted. A double apply shows as a count of two.
export function countApplies(agents: Agent[]): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const a of agents) {
    calls[a.name] = 0;
    const run = a.engine.run.bind(a.engine);
    a.engine.run = (plan, o) => {
      if (o.mode === ApplyMode.APPLY_MODE_APPLY) calls[a.name]++;
      return run(plan, o);
    };
  }
  return calls;
}

// The fleet's nodes made workers (makeFleet gives them etcd and control-plane).
export async function asWorkers(f: TestFleet): Promise<void> {
  await fs.writeFile(f.inventoryFile, (await fs.readFile(f.inventoryFile, 'utf8')).replace(/roles: \[etcd, control-plane\] \}/g, () => 'roles: [worker] }'));
}

// A stand-in kubelet /healthz that always answers 200 (no kubelet on this machine), on a free
// loopback port, for a kubelet probe to poll.
export async function standInKubelet(): Promise<{ url: string; close(): Promise<void> }> {
  const kubelet = http.createServer((_req, res) => res.writeHead(200).end('ok'));
  await new Promise<void>((r) => kubelet.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(kubelet.address() as net.AddressInfo).port}`,
    close: () => new Promise((r) => kubelet.close(() => r())),
  };
}

// n worker nodes (racks by the caller), their agents in this process, and a stand-in kubelet
// for their kubelet probe.
export async function workerFleet(n: number, prefix: string): Promise<{ f: TestFleet; agents: Agent[]; kubeletUrl: string; stop(): Promise<void> }> {
  const f = await makeFleet(n, prefix);
  await asWorkers(f);
  const kubelet = await standInKubelet();
  const agents = await startAgents(f);
  return {
    f,
    agents,
    kubeletUrl: kubelet.url,
    async stop() {
      await Promise.all(agents.map((a) => a.stop()));
      await kubelet.close();
      await f.cleanup();
    },
  };
}
