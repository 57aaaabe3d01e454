// The fleet simulator: N agents hosted in a few processes, the controller applies a 12-task plan
// to all of them over mutual TLS. Reports converge time (connections included), the no-op re-run
// time and memory per agent instance.
//   npm run bench -- --agents 1000 [--hosts 2] [--concurrency 256]
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ApplyMode } from '../../proto/gen/muster/agent/v1/agent.js';
import { Fleet, mapLimit } from '../../controller/fleet/fleet.js';
import { ClusterPki } from '../../controller/pki/cluster.js';
import { fleetStore, initFleet, readFleetCredentials } from '../../controller/pki/fleet.js';
import { plansFrom } from '../../controller/app/plan-set.js';
import type { Inventory } from '../../controller/inputs/inventory.js';
import { loadTaskFile } from '../../controller/inputs/task-file.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '100' },
    hosts: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '64' },
  },
});
const N = Number(values.agents);
const HOSTS = Number(values.hosts);
const CONCURRENCY = Number(values.concurrency);
const work = path.join(repo, '.bench');
const state = path.join(work, 'state'); // fleet and cluster PKI, kept between runs
const roots = path.join(work, `roots-${N}`);

const manifest = (name: string, image: string) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: kube-system
  labels: { component: ${name}, tier: control-plane }
spec:
  hostNetwork: true
  priorityClassName: system-node-critical
  containers:
    - name: ${name}
      image: ${image}
      command: [${name}, --node=\${NODE_NAME}, --advertise-address=\${NODE_IP}, --v=2]
      resources: { requests: { cpu: 100m, memory: 128Mi } }
`;

function taskFile(): string {
  const files = Array.from({ length: 8 }, (_, i) => `  - id: config-${i}
    file:
      path: /etc/kubernetes/config-${i}.conf
      content: "${`node=\${NODE_NAME} ip=\${NODE_IP} line ${i}\\n`.repeat(16)}"
      ${i === 7 ? 'secret: true' : 'mode: "0644"'}`);
  const pods = ['etcd', 'kube-apiserver', 'kube-scheduler'].map((n) => `  - id: ${n}
    staticPod:
      name: ${n}
      manifest: |
${manifest(n, `registry.k8s.io/${n}:v1.31.2`).split('\n').map((l) => '        ' + l).join('\n')}`);
  const cert = `  - id: kubelet-cert
    certificate:
      certPath: /var/lib/kubelet/pki/kubelet.crt
      keyPath: /var/lib/kubelet/pki/kubelet.key
      caPath: /var/lib/kubelet/pki/ca.crt
      issue: { commonName: "system:node:\${NODE_NAME}", organizations: ["system:nodes"], ipAddresses: ["\${NODE_IP}"], usages: [client, server] }`;
  return `tasks:\n${[...files, ...pods, cert].join('\n')}\n`;
}

function send<T>(p: ChildProcess, msg: object, reply: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: { op: string }) => {
      if (m.op === reply) {
        p.off('message', on);
        resolve(m as T);
      }
    };
    p.on('message', on);
    p.send(msg);
  });
}

const mb = (b: number) => (b / 1024 / 1024).toFixed(1);

async function main() {
  fs.rmSync(roots, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const inv: Inventory = {
    file: '(bench)',
    cluster: 'bench',
    nodes: Array.from({ length: N }, (_, i) => ({ name: `a${i}`, address: '127.0.0.1', hostname: `a${i}`, agentPort: 0, roles: ['worker' as const], labels: {} })),
  };
  let t = performance.now();
  await initFleet(state, inv);
  const tasksPath = path.join(work, 'tasks.yaml');
  fs.writeFileSync(tasksPath, taskFile());
  const { plans } = await plansFrom({ inv, tasks: await loadTaskFile(tasksPath) }, new ClusterPki(state, 'bench'));
  console.log(`setup: PKI and ${plans.length} plans of ${plans[0].tasks.length} tasks in ${Math.round(performance.now() - t)} ms (certificates are kept in .bench/ between runs)`);

  // Agents: HOSTS processes, each hosting its share.
  const store = fleetStore(state);
  const hosts: ChildProcess[] = [];
  const started: { rssBefore: number; ports: { name: string; port: number }[] }[] = [];
  t = performance.now();
  await Promise.all(Array.from({ length: HOSTS }, async (_, h) => {
    const p = fork(path.join(here, 'agent-host.ts'), [], { execArgv: ['--import', 'tsx', '--expose-gc', ...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_PROF] : [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    hosts.push(p);
    await new Promise((r) => p.once('message', r));
    const mine = inv.nodes.filter((_, i) => i % HOSTS === h).map((n) => ({
      name: n.name,
      root: path.join(roots, n.name),
      tls: { ca: store.file('ca', 'crt'), cert: store.file(`agents/${n.name}`, 'crt'), key: store.file(`agents/${n.name}`, 'key') },
    }));
    started[h] = await send(p, { op: 'start', nodes: mine }, 'started');
  }));
  const ports = new Map(started.flatMap((s) => s.ports.map((p) => [p.name, p.port] as const)));
  for (const n of inv.nodes) n.agentPort = ports.get(n.name)!;
  console.log(`agents: ${N} instances in ${HOSTS} processes, started in ${Math.round(performance.now() - t)} ms`);

  const creds = await readFleetCredentials(state);
  // CPU seconds spent by the controller and by all agent processes during a phase: on real
  // nodes the agents' share runs on their own machines, the controller's is what fans out.
  const agentCpu = async () => (await Promise.all(hosts.map((p) => send<{ us: number }>(p, { op: 'cpu' }, 'cpu')))).reduce((s, x) => s + x.us, 0);
  const ctlCpu = () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  const measure = async <T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; ctlMs: number; agentMs: number }> => {
    const [a0, c0, t0] = [await agentCpu(), ctlCpu(), performance.now()];
    const value = await fn();
    const ms = performance.now() - t0;
    const [c1, a1] = [ctlCpu(), await agentCpu()];
    return { value, ms, ctlMs: (c1 - c0) / 1000, agentMs: (a1 - a0) / 1000 };
  };
  const cpuLine = (m: { ctlMs: number; agentMs: number }) =>
    `controller CPU ${Math.round(m.ctlMs)} ms (${(m.ctlMs / N).toFixed(2)} ms per agent), agents' CPU ${Math.round(m.agentMs)} ms (${(m.agentMs / N).toFixed(2)} ms per agent)`;
  const run = async (label: string, expect: 'changed' | 'ok') => {
    const fleet = new Fleet(inv.nodes, creds); // fresh: connections and TLS handshakes are counted
    const m = await measure(() => fleet.run(plans, { mode: ApplyMode.APPLY_MODE_APPLY, concurrency: CONCURRENCY, timeoutMs: 120_000 }));
    const [outcomes, ms] = [m.value, m.ms];
    fleet.close();
    const bad = outcomes.filter((o) => o.error || !o.summary?.converged || (expect === 'changed' ? o.summary.changed !== 12 : o.summary.ok !== 12));
    if (bad.length) throw new Error(`${label}: ${bad.length} nodes not as expected, first: ${bad[0].node} ${bad[0].error ?? JSON.stringify(bad[0].summary)}`);
    const engineMs = outcomes.reduce((s, o) => s + o.summary!.durationUs, 0) / 1000;
    console.log(`${label}: ${N} agents × 12 tasks in ${Math.round(ms)} ms (concurrency ${CONCURRENCY}); agent engines busy ${Math.round(engineMs / N)} ms per agent on average`);
    console.log(`  ${cpuLine(m)}`);
    return m;
  };
  // The floor: connect (TCP, TLS 1.3, HTTP/2) and one GetStatus per agent, no plan work.
  {
    const fleet = new Fleet(inv.nodes, creds);
    const m = await measure(() => mapLimit(inv.nodes, CONCURRENCY, (n) => fleet.client(n).status()));
    console.log(`connect + GetStatus: ${N} agents in ${Math.round(m.ms)} ms`);
    console.log(`  ${cpuLine(m)}`);
    fleet.close();
  }
  const converge = await run('converge', 'changed');
  const noop = await run('no-op re-run', 'ok');

  const rssAfter = await Promise.all(hosts.map((p) => send<{ rss: number }>(p, { op: 'rss' }, 'rss')));
  const before = started.reduce((s, x) => s + x.rssBefore, 0);
  const after = rssAfter.reduce((s, x) => s + x.rss, 0);
  console.log(`memory: agent processes ${mb(before)} MiB before agents, ${mb(after)} MiB after converging; ${((after - before) / N / 1024).toFixed(0)} KiB per agent instance`);
  console.log(`controller RSS: ${mb(process.memoryUsage().rss)} MiB`);
  console.log(JSON.stringify({
    agents: N,
    hosts: HOSTS,
    concurrency: CONCURRENCY,
    convergeMs: Math.round(converge.ms),
    convergeControllerCpuMs: Math.round(converge.ctlMs),
    noopMs: Math.round(noop.ms),
    noopControllerCpuMs: Math.round(noop.ctlMs),
    perAgentKiB: Math.round((after - before) / N / 1024),
  }));

  await Promise.all(hosts.map((p) => new Promise((r) => (p.once('exit', r), p.send({ op: 'stop' })))));
  fs.rmSync(roots, { recursive: true, force: true });
}

await main();
