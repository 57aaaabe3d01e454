// Two or more `muster serve` processes on a real three-member etcd (TLS, the fleet's own
// certificates, etcd's auth on), over real agents on loopback: what the failover system test and the failover
// benchmark run. Workers are gated on their kubelet probe, which polls a stand-in kubelet
// /healthz (no kubelet on this machine). Each agent's engine counts the applies it is sent.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Agent } from '../../agent/agent.js';
import { ControllerClient } from '../../controller/api/client.js';
import { fleetStore } from '../../controller/pki/fleet.js';
import { EtcdStore } from '../../controller/store/etcd.js';
import { enableAuth, startTestEtcd, type TestEtcd } from './etcd-cluster.js';
import { asWorkers, countApplies, freePort, makeFleet, repoRoot, standInKubelet, startAgents, waitForPort, type TestFleet } from './fleet.js';

export interface Controller {
  id: string;
  url: string;
  proc: ChildProcess;
  pid: number;
  exited: Promise<void>;
  client: ControllerClient;
  log(): string;
}

export interface Rig {
  fleet: TestFleet;
  etcd: TestEtcd;
  agents: Agent[];
  // Apply calls (mode apply) that reached each agent's engine; checks and drift repairs are not counted.
  applies: Record<string, number>;
  storeUrl: string;
  leaseTtlS: number;
  // The test's own view of the etcd store (reads the journal and history).
  store: EtcdStore;
  controllers: Controller[];
  tasks(content: string): string;
  // Starts a rollout of `content` through the controller's API (batch 1) and returns its id.
  startRollout(c: Controller, content: string, options?: Record<string, unknown>): Promise<string>;
  startController(id: string): Promise<Controller>;
  // Waits until one live controller says it leads.
  leader(timeoutMs?: number): Promise<Controller>;
  stop(): Promise<void>;
}

type After = { after(fn: () => Promise<void> | void): void };

export async function startRig(t: After, o: { workers: number; leaseTtlS: number }): Promise<Rig> {
  // Undone last first, also when the rig fails half-way up (a port another test took).
  const undo: (() => Promise<unknown> | unknown)[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    while (undo.length) await undo.pop()!();
  };
  t.after(stop);
  const fleet = await makeFleet(o.workers, 'w');
  undo.push(() => fleet.cleanup());
  await asWorkers(fleet);
  const pki = fleetStore(fleet.state);
  const [ca, controllerPair] = [(await pki.read('ca'))!, (await pki.read('controller'))!];
  // The controller's own etcd: it trusts the fleet CA, so the controller's certificate is its client certificate.
  const etcd = await startTestEtcd({ after: (fn) => void undo.push(fn) }, { members: 3, ca, client: controllerPair });
  // As docs/ha.md says to run it: only the controller's certificate is an etcd user.
  await enableAuth(etcd);
  const kubelet = await standInKubelet();
  undo.push(() => kubelet.close());
  const kubeletUrl = kubelet.url;
  const agents = await startAgents(fleet);
  undo.push(() => Promise.all(agents.map((a) => a.stop())));
  const applies = countApplies(agents);
  const storeUrl = `etcd://${etcd.hostPorts.join(',')}`;
  const store = new EtcdStore({ endpoints: etcd.endpoints, ca: Buffer.from(ca.certPem), cert: Buffer.from(controllerPair.certPem), key: Buffer.from(controllerPair.keyPem) });
  undo.push(() => store.closeAsync());
  const controllers: Controller[] = [];
  undo.push(() => Promise.all(controllers.map(async (c) => {
    if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGTERM');
    await c.exited;
  })));
  const caPem = ca.certPem;

  const startController = async (id: string): Promise<Controller> => {
    // Each controller has its own copy of the fleet state, as on its own machine.
    const state = path.join(fleet.dir, `state-${id}`);
    fs.cpSync(fleet.state, state, { recursive: true });
    const port = await freePort();
    const logFile = path.join(fleet.dir, `serve-${id}.log`);
    const fd = fs.openSync(logFile, 'a');
    const proc = spawn(process.execPath, [
      path.join(repoRoot, 'bin/muster.js'), '-s', state, '-i', fleet.inventoryFile,
      'serve', '--listen', `127.0.0.1:${port}`, '--store', storeUrl, '--id', id, '--no-enroll', '--lease-ttl', String(o.leaseTtlS),
    ], { stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    const log = () => fs.readFileSync(logFile, 'utf8');
    await Promise.race([waitForPort('127.0.0.1', port, 30_000), exited.then(() => Promise.reject(new Error(`muster serve ${id} exited:\n${log()}`)))]);
    const url = `https://127.0.0.1:${port}`;
    const c: Controller = { id, url, proc, pid: proc.pid!, exited, log, client: new ControllerClient(url, { caPem, certPem: controllerPair.certPem, keyPem: controllerPair.keyPem }) };
    controllers.push(c);
    return c;
  };

  const leader = async (timeoutMs = 30_000): Promise<Controller> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const c of controllers) {
        if (c.proc.exitCode !== null || c.proc.signalCode !== null) continue;
        const body = await c.client.get<{ self: { leader: boolean } }>('/v1/leader').catch(() => undefined);
        if (body?.self.leader) return c;
      }
      if (Date.now() > deadline) throw new Error(`no controller leads after ${timeoutMs} ms:\n${controllers.map((c) => `--- ${c.id}\n${c.log()}`).join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  // A task file: every node's app.conf holds `content`, gated on the kubelet stand-in.
  const tasks = (content: string): string => {
    const p = path.join(fleet.dir, `tasks-${content}.yaml`);
    fs.writeFileSync(p, `probes:
  - name: kubelet
    http: { url: "${kubeletUrl}/\${NODE_NAME}/healthz" }
    intervalSeconds: 1
tasks:
  - id: app
    file: { path: /etc/kubernetes/app.conf, content: "${content}\\n" }
`);
    return p;
  };

  const startRollout = async (c: Controller, content: string, options: Record<string, unknown> = {}): Promise<string> => {
    const known = new Set((await store.rollouts(1000)).map((r) => r.id));
    await c.client.post('/v1/rollouts', { tasks: tasks(content), options: { batch: '1', soakMs: { worker: 0 }, gateTimeoutMs: { worker: 30_000 }, pollMs: 100, ...options } });
    return until('the new rollout in etcd', async () => (await store.rollouts(5)).find((r) => !known.has(r.id))?.id);
  };

  return { fleet, etcd, agents, applies, storeUrl, leaseTtlS: o.leaseTtlS, store, controllers, tasks, startRollout, startController, leader, stop };
}

// Polls fn every 50 ms until it gives a value.
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
