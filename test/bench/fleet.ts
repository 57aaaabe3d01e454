// The fleet simulator: N agents hosted in a few processes, the controller applies a 12-task plan
// to all of them over mutual TLS. Three phases, each on agents started afresh:
//   cold:    every step on fresh connections (TCP, TLS, HTTP/2), as one `muster apply` run does;
//   warm:    one Fleet held open, every channel connected by a GetStatus first, then the converge
//            and the no-op re-run over the same channels, as `muster serve` does;
//   restart: the warm Fleet closed (the controller gone), a new Fleet and FleetMonitor watching
//            every agent: the time until every stream delivered a status, and the rate.
// Reports wall time, the controller's and the agents' CPU (process.cpuUsage), the controller's
// RSS, and the load average (the machine may be shared: CPU time is the figure to compare).
//   npm run bench -- --agents 1000 [--hosts 2] [--concurrency 64] [--phases cold,warm,restart] [--roots DIR]
// (--phases restart alone: channels warmed by GetStatus, then the restart, no applies)
// BENCH_PROF=<dir> writes a CPU profile of the controller and of each agent process per phase;
// BENCH_HEAP=<dir> a heap snapshot of the controller with the warm channels open.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ApplyMode, type Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import type { ApplyOutcome } from '../../controller/fleet/client.js';
import { Fleet, mapLimit } from '../../controller/fleet/fleet.js';
import { FleetMonitor } from '../../controller/fleet/monitor.js';
import { ClusterPki } from '../../controller/pki/cluster.js';
import { fleetStore, initFleet, readFleetCredentials, type FleetCredentials } from '../../controller/pki/fleet.js';
import { plansFrom } from '../../controller/app/plan-set.js';
import type { Inventory } from '../../controller/inputs/inventory.js';
import { loadTaskFile } from '../../controller/inputs/task-file.js';
import { profileStart, profileStop } from './profile.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '100' },
    hosts: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '64' },
    phases: { type: 'string', default: 'cold,warm,restart' },
    // where the agents' root folders go (default .bench/): a tmpfs takes the disk out of the figure
    roots: { type: 'string' },
  },
});
const N = Number(values.agents);
const HOSTS = Number(values.hosts);
const CONCURRENCY = Number(values.concurrency);
const PHASES = new Set(values.phases.split(','));
const work = path.join(repo, '.bench');
const state = path.join(work, 'state'); // fleet and cluster PKI, kept between runs
const roots = path.join(values.roots ?? work, `roots-${N}`);
// A full GC before each RSS reading, so the figure is what is held, not garbage not yet swept.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

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
const ms = (us: number) => Math.round(us / 1000);
const load = () => os.loadavg()[0].toFixed(1);
// The RSS split: V8's heap (used, and committed but free, mostly the young generation's semi-spaces),
// Buffers and other external memory V8 knows of, and native memory (OpenSSL, nghttp2, libuv, malloc).
function memoryParts(): string {
  const m = process.memoryUsage();
  const anon = Number(/^Anonymous:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/smaps_rollup', 'utf8'))?.[1] ?? 0) * 1024;
  const native = anon - m.heapTotal - m.external;
  return `RSS ${mb(m.rss)} MiB (${mb(m.rss - anon)} MiB file-backed: the node binary and modules); anonymous ${mb(anon)} MiB = JS heap ${mb(m.heapUsed)} used + ${mb(m.heapTotal - m.heapUsed)} committed free, external ${mb(m.external)}, the rest native ${mb(native)} MiB`;
}

// The agent processes of one phase: each hosts its share of the N agents, on fresh roots.
class AgentHosts {
  readonly procs: ChildProcess[] = [];
  rssBefore = 0;

  static async start(inv: Inventory, dir: string): Promise<AgentHosts> {
    fs.rmSync(dir, { recursive: true, force: true });
    const hosts = new AgentHosts();
    const store = fleetStore(state);
    const started: { rssBefore: number; ports: { name: string; port: number }[] }[] = [];
    await Promise.all(Array.from({ length: HOSTS }, async (_, h) => {
      const p = fork(path.join(here, 'agent-host.ts'), [String(h)], { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      hosts.procs.push(p);
      await new Promise((r) => p.once('message', r));
      const mine = inv.nodes.filter((_, i) => i % HOSTS === h).map((n) => ({
        name: n.name,
        root: path.join(dir, n.name),
        tls: { ca: store.file('ca', 'crt'), cert: store.file(`agents/${n.name}`, 'crt'), key: store.file(`agents/${n.name}`, 'key') },
      }));
      started[h] = await send(p, { op: 'start', nodes: mine }, 'started');
    }));
    const ports = new Map(started.flatMap((s) => s.ports.map((p) => [p.name, p.port] as const)));
    for (const n of inv.nodes) n.agentPort = ports.get(n.name)!;
    hosts.rssBefore = started.reduce((s, x) => s + x.rssBefore, 0);
    return hosts;
  }

  // CPU microseconds spent by all agent processes so far.
  async cpu(): Promise<{ us: number; sys: number }> {
    const all = await Promise.all(this.procs.map((p) => send<{ us: number; sys: number }>(p, { op: 'cpu' }, 'cpu')));
    return { us: all.reduce((s, x) => s + x.us, 0), sys: all.reduce((s, x) => s + x.sys, 0) };
  }

  async profile(op: 'prof-start' | 'prof-stop', name = ''): Promise<void> {
    await Promise.all(this.procs.map((p) => send(p, { op, name }, op)));
  }

  async rss(): Promise<number> {
    return (await Promise.all(this.procs.map((p) => send<{ rss: number }>(p, { op: 'rss' }, 'rss')))).reduce((s, x) => s + x.rss, 0);
  }

  async stop(dir: string): Promise<void> {
    await Promise.all(this.procs.map((p) => new Promise((r) => (p.once('exit', r), p.send({ op: 'stop' })))));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface Measured<T> {
  value: T;
  wallMs: number;
  ctlMs: number;
  ctlSysMs: number;
  agentMs: number;
  agentSysMs: number;
  load: string;
}

const ctlCpu = () => {
  const u = process.cpuUsage();
  return { us: u.user + u.system, sys: u.system };
};

// Wall time, and the CPU the controller (this process) and the agents spent in the same span.
async function measure<T>(hosts: AgentHosts, name: string, fn: () => Promise<T>): Promise<Measured<T>> {
  await Promise.all([profileStart(), hosts.profile('prof-start')]);
  const [a0, c0, t0] = [await hosts.cpu(), ctlCpu(), performance.now()];
  const value = await fn();
  const wallMs = performance.now() - t0;
  const [c1, a1] = [ctlCpu(), await hosts.cpu()];
  await Promise.all([profileStop(`controller-${name}`), hosts.profile('prof-stop', `agents-${name}`)]);
  return { value, wallMs, ctlMs: ms(c1.us - c0.us), ctlSysMs: ms(c1.sys - c0.sys), agentMs: ms(a1.us - a0.us), agentSysMs: ms(a1.sys - a0.sys), load: load() };
}

// The wall time two cores would need for the CPU spent: well above it, other work took the cores.
const line = (label: string, m: Measured<unknown>) =>
  console.log(`${label}: ${N} agents in ${Math.round(m.wallMs)} ms; controller CPU ${m.ctlMs} ms (${(m.ctlMs / N).toFixed(2)} ms per agent, ${m.ctlSysMs} ms of it in the kernel), agents' CPU ${m.agentMs} ms (${(m.agentMs / N).toFixed(2)} ms per agent, ${m.agentSysMs} ms in the kernel); CPU-bound floor on ${os.availableParallelism()} cores ${Math.round((m.ctlMs + m.agentMs) / os.availableParallelism())} ms; load ${m.load}`);

function expectAll(label: string, outcomes: ApplyOutcome[], expect: 'changed' | 'ok'): void {
  const bad = outcomes.filter((o) => o.error || !o.summary?.converged || (expect === 'changed' ? o.summary.changed !== 12 : o.summary.ok !== 12));
  if (bad.length) throw new Error(`${label}: ${bad.length} nodes not as expected, first: ${bad[0].node} ${bad[0].error ?? JSON.stringify(bad[0].summary)}`);
}

const apply = (fleet: Fleet, plans: Plan[]) => fleet.run(plans, { mode: ApplyMode.APPLY_MODE_APPLY, concurrency: CONCURRENCY, timeoutMs: 300_000 });
const statusAll = (fleet: Fleet, inv: Inventory) => mapLimit(inv.nodes, CONCURRENCY, (n) => fleet.client(n).status(60_000));

async function cold(inv: Inventory, plans: Plan[], creds: FleetCredentials, out: Record<string, unknown>): Promise<void> {
  const dir = `${roots}-cold`;
  const hosts = await AgentHosts.start(inv, dir);
  // Every step on a new Fleet: connections and TLS handshakes are counted, as in one CLI run.
  const fresh = async <T>(fn: (f: Fleet) => Promise<T>) => {
    const fleet = new Fleet(inv.nodes, creds);
    try {
      return await fn(fleet);
    } finally {
      fleet.close();
    }
  };
  const connect = await measure(hosts, 'cold-connect', () => fresh((f) => statusAll(f, inv)));
  line('cold connect + GetStatus', connect);
  const converge = await measure(hosts, 'cold-converge', () => fresh((f) => apply(f, plans)));
  expectAll('cold converge', converge.value, 'changed');
  line('cold converge, 12 tasks', converge);
  const noop = await measure(hosts, 'cold-noop', () => fresh((f) => apply(f, plans)));
  expectAll('cold no-op', noop.value, 'ok');
  line('cold no-op re-run', noop);
  await hosts.stop(dir);
  Object.assign(out, { coldConnectMs: Math.round(connect.wallMs), coldConvergeMs: Math.round(converge.wallMs), coldConvergeCtlCpuMs: converge.ctlMs, coldNoopMs: Math.round(noop.wallMs), coldNoopCtlCpuMs: noop.ctlMs });
}

async function warm(inv: Inventory, plans: Plan[], creds: FleetCredentials, out: Record<string, unknown>, restart: boolean): Promise<void> {
  const dir = `${roots}-warm`;
  const hosts = await AgentHosts.start(inv, dir);
  gc();
  const [rssPlans, heapPlans] = [process.memoryUsage().rss, process.memoryUsage().heapUsed];
  const fleet = new Fleet(inv.nodes, creds);
  const connect = await measure(hosts, 'warm-connect', () => statusAll(fleet, inv));
  line('warm-up: connect + GetStatus', connect);
  gc();
  const [rssChannels, heapChannels] = [process.memoryUsage().rss, process.memoryUsage().heapUsed];
  console.log(`controller memory with ${N} channels open: ${memoryParts()}`);
  if (process.env.BENCH_HEAP) v8.writeHeapSnapshot(path.join(process.env.BENCH_HEAP, 'channels.heapsnapshot'));
  out.warmConnectMs = Math.round(connect.wallMs);
  // --phases restart alone: the channels warmed by GetStatus, no applies.
  if (PHASES.has('warm')) await warmApplies(hosts, fleet, plans, out, { rssPlans, heapPlans, rssChannels, heapChannels });
  if (restart) await restarted(inv, creds, fleet, hosts, out);
  else fleet.close();
  await hosts.stop(dir);
}

async function warmApplies(hosts: AgentHosts, fleet: Fleet, plans: Plan[], out: Record<string, unknown>, mem: { rssPlans: number; heapPlans: number; rssChannels: number; heapChannels: number }): Promise<void> {
  const { rssPlans, heapPlans, rssChannels, heapChannels } = mem;
  const converge = await measure(hosts, 'warm-converge', () => apply(fleet, plans));
  expectAll('warm converge', converge.value, 'changed');
  line('warm converge, 12 tasks', converge);
  converge.value = []; // the results with their diffs: the bench's to drop, not the channels' memory
  gc();
  const rssConverged = process.memoryUsage().rss;
  const noop = await measure(hosts, 'warm-noop', () => apply(fleet, plans));
  expectAll('warm no-op', noop.value, 'ok');
  line('warm no-op re-run', noop);
  noop.value = [];
  const peak = process.memoryUsage().rss;
  gc();
  const rssAfter = process.memoryUsage().rss;
  const heapAfter = process.memoryUsage().heapUsed;
  console.log(`controller RSS: ${mb(rssPlans)} MiB with the plans in memory, ${mb(rssChannels)} MiB with ${N} channels open, ${mb(rssConverged)} MiB after the converge, ${mb(rssAfter)} MiB after the no-op re-run (${mb(peak)} MiB before that GC); JS heap used ${mb(heapPlans)}, ${mb(heapChannels)}, ${mb(heapAfter)} MiB at those points`);
  console.log(`controller memory after the re-run: ${memoryParts()}`);
  const agentsRss = await hosts.rss();
  console.log(`agents: ${mb(hosts.rssBefore)} MiB in ${HOSTS} processes before the agents started, ${mb(agentsRss)} MiB after converging; ${((agentsRss - hosts.rssBefore) / N / 1024).toFixed(0)} KiB per agent instance`);
  Object.assign(out, {
    warmConvergeMs: Math.round(converge.wallMs),
    warmConvergeCtlCpuMs: converge.ctlMs,
    warmConvergeAgentCpuMs: converge.agentMs,
    warmNoopMs: Math.round(noop.wallMs),
    warmNoopCtlCpuMs: noop.ctlMs,
    warmNoopAgentCpuMs: noop.agentMs,
    ctlRssMiB: Number(mb(rssAfter)),
    ctlRssPeakMiB: Number(mb(peak)),
    agentKiB: Math.round((agentsRss - hosts.rssBefore) / N / 1024),
  });
}

// The controller restarts: its channels close, a new one watches every agent with FleetMonitor.
async function restarted(inv: Inventory, creds: FleetCredentials, old: Fleet, hosts: AgentHosts, out: Record<string, unknown>): Promise<void> {
  old.close();
  const fleet = new Fleet(inv.nodes, creds);
  const firstStatus = new Map<string, number>();
  let failures = 0;
  let t0 = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const monitor = new FleetMonitor(fleet, inv, {
    change(v) {
      if (v.status && !firstStatus.has(v.node.name)) {
        firstStatus.set(v.node.name, performance.now() - t0);
        if (firstStatus.size === N) done();
      } else if (!v.status && v.error) failures++;
    },
  });
  const m = await measure(hosts, 'restart', async () => {
    t0 = performance.now();
    monitor.start();
    await all;
  });
  monitor.stop();
  fleet.close();
  line('restart: every WatchStatus stream delivered a status', m);
  // Statuses delivered per 100 ms and per second: a herd shows as one tall bucket and failures.
  const per = (bucketMs: number) => {
    const counts = new Array<number>(Math.floor(m.wallMs / bucketMs) + 1).fill(0);
    for (const t of firstStatus.values()) counts[Math.floor(t / bucketMs)]++;
    return counts;
  };
  const perSecond = per(1000);
  const peak100 = Math.max(...per(100));
  console.log(`  statuses per second: ${perSecond.join(', ')}; at most ${peak100} in one 100 ms; ${failures} failed attempts retried`);
  Object.assign(out, { restartMs: Math.round(m.wallMs), restartCtlCpuMs: m.ctlMs, restartPerSecond: perSecond, restartPeakPer100Ms: peak100, restartFailures: failures });
}

async function main() {
  fs.mkdirSync(work, { recursive: true });
  const inv: Inventory = {
    file: '(bench)',
    cluster: 'bench',
    nodes: Array.from({ length: N }, (_, i) => ({ name: `a${i}`, address: '127.0.0.1', hostname: `a${i}`, agentPort: 0, roles: ['worker' as const], labels: {} })),
  };
  gc();
  const rssStart = process.memoryUsage().rss;
  const t = performance.now();
  await initFleet(state, inv);
  const tasksPath = path.join(work, 'tasks.yaml');
  fs.writeFileSync(tasksPath, taskFile());
  const { plans } = await plansFrom({ inv, tasks: await loadTaskFile(tasksPath) }, new ClusterPki(state, 'bench'));
  gc();
  console.log(`setup: PKI and ${plans.length} plans of ${plans[0].tasks.length} tasks in ${Math.round(performance.now() - t)} ms (certificates are kept in .bench/ between runs); controller RSS ${mb(rssStart)} MiB at start, ${mb(process.memoryUsage().rss)} MiB with the plans; load ${load()}`);
  const creds = await readFleetCredentials(state);
  const out: Record<string, unknown> = { agents: N, hosts: HOSTS, concurrency: CONCURRENCY, cores: os.availableParallelism() };
  if (PHASES.has('cold')) await cold(inv, plans, creds, out);
  if (PHASES.has('warm') || PHASES.has('restart')) await warm(inv, plans, creds, out, PHASES.has('restart'));
  console.log(JSON.stringify(out));
}

await main();
