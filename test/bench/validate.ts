// Computing the plans: `muster validate` of the HA example (examples/ha-cluster) grown to N
// workers. The first run finds an empty state folder and issues every certificate in memory;
// apply's PKI step then keeps them, and the next runs are what an operator's every
// validate/plan/apply costs. Wall time and the process's CPU (user + system), median of --runs.
//   npm run bench:validate -- --workers 2000 [--runs 5] [--cli] [--profile dir] [--pods]
// --pods adds a task file of the fleet simulator's shape to every node: eight files and three
// static pods with the node's name and address in them (the task-file render path).
// --cli also times `bin/muster.js validate` as a process (what a user runs; needs `npm run build`).
// --profile writes a V8 CPU profile of one warm in-process run into dir (open in Chrome DevTools).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildPlanSet, type PlanSet } from '../../controller/app/plan-set.js';
import { validate } from '../../controller/app/validate.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '2000' },
    runs: { type: 'string', default: '5' },
    cli: { type: 'boolean', default: false },
    profile: { type: 'string' },
    pods: { type: 'boolean', default: false },
  },
});
const WORKERS = Number(values.workers);
const RUNS = Number(values.runs);
const example = path.join(repo, 'examples/ha-cluster');
const work = path.join(repo, '.bench', `validate-${WORKERS}`);
const state = path.join(work, 'state');
const inventory = path.join(work, 'inventory.yaml');
const cluster = path.join(work, 'cluster.yaml');
const tasks = values.pods ? path.join(work, 'tasks.yaml') : undefined;

function taskFile(): string {
  const files = Array.from({ length: 8 }, (_, i) => `  - id: config-${i}
    file:
      path: /etc/muster-bench/config-${i}.conf
      content: "node=\${NODE_NAME} ip=\${NODE_IP} line ${i}\\n"`);
  const pods = ['bench-a', 'bench-b', 'bench-c'].map((n) => `  - id: ${n}
    staticPod:
      name: ${n}
      manifest: |
        apiVersion: v1
        kind: Pod
        metadata: { name: ${n}, namespace: kube-system }
        spec:
          hostNetwork: true
          containers:
            - name: ${n}
              image: registry.example/${n}:1
              command: [${n}, --node=\${NODE_NAME}, --advertise-address=\${NODE_IP}, --v=2]`);
  return `tasks:\n${[...files, ...pods].join('\n')}\n`;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x: number) => `${Math.round(x)} ms`;

// The example's ten nodes with its five workers replaced by N, spread over racks and subnets.
function growInventory(): string {
  const text = fs.readFileSync(path.join(example, 'inventory.yaml'), 'utf8');
  const head = text.split('\n').filter((l) => !/name: w\d+,/.test(l));
  const workers = Array.from({ length: WORKERS }, (_, i) => {
    const n = i + 1;
    return `  - { name: w${n}, address: 10.${1 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}, roles: [worker], labels: { rack: r${n % 40} } }`;
  });
  return [...head.filter((l) => l !== ''), ...workers, ''].join('\n');
}

interface Sample {
  wall: number;
  cpu: number;
}

async function inProcess(run: () => Promise<PlanSet>): Promise<Sample & { set: PlanSet }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const set = await run();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(cpu0);
  return { wall, cpu: (c.user + c.system) / 1000, set };
}

// The CLI as a process, timed by /usr/bin/time (wall, user and system seconds of the child).
function cliRun(): Sample {
  const out = path.join(work, 'time.txt');
  execFileSync('/usr/bin/time', ['-o', out, '-f', '%e %U %S', process.execPath, path.join(repo, 'bin/muster.js'), '-s', state, '-i', inventory, 'validate', '-c', cluster, ...(tasks ? ['-t', tasks] : []), '-o', 'json'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    maxBuffer: 1 << 30,
  });
  const [e, u, s] = fs.readFileSync(out, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wall: e * 1000, cpu: (u + s) * 1000 };
}

function report(what: string, samples: Sample[]) {
  const walls = samples.map((s) => s.wall);
  console.log(
    `${what.padEnd(44)} wall median ${ms(median(walls)).padStart(8)} (min ${ms(Math.min(...walls))}, max ${ms(Math.max(...walls))}), CPU median ${ms(median(samples.map((s) => s.cpu)))}; ` +
      `${(median(walls) / (WORKERS + 5)).toFixed(2)} ms per node`,
  );
}

async function main() {
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  fs.writeFileSync(inventory, growInventory());
  // A /16 holds 256 nodes' pod subnets: a fleet this size takes 100.64.0.0/10 (16,384 of them).
  fs.writeFileSync(cluster, fs.readFileSync(path.join(example, 'cluster.yaml'), 'utf8').replace('podCIDR: 10.244.0.0/16', 'podCIDR: 100.64.0.0/10'));
  if (tasks) fs.writeFileSync(tasks, taskFile());
  const files = { inventory, cluster, state, tasks };
  console.log(`muster validate: examples/ha-cluster${tasks ? ' and a task file of 8 files and 3 pods per node' : ''} with ${WORKERS} workers (${WORKERS + 5} nodes), Node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);

  const first = await inProcess(() => validate(files));
  report('first run (empty state, issues in memory)', [first]);
  console.log(`  ${first.set.plans.length} plans, ${first.set.issued.length} certificates and keys issued in memory`);
  await buildPlanSet({ ...files, persist: true }); // apply's PKI step keeps them
  const warm: Sample[] = [];
  let revisions = '';
  for (let i = 0; i < RUNS; i++) {
    const r = await inProcess(() => validate(files));
    if (r.set.issued.length) throw new Error(`a warm run issued ${r.set.issued.join(', ')}`);
    const revs = r.set.plans.map((p) => p.revision).join();
    if (revisions && revs !== revisions) throw new Error('two runs on the same inputs gave different revisions');
    revisions = revs;
    warm.push(r);
  }
  report(`in process, certificates issued (${RUNS} runs)`, warm);
  if (values.profile) {
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    await validate(files);
    const { profile } = await session.post('Profiler.stop');
    fs.mkdirSync(values.profile, { recursive: true });
    const file = path.join(values.profile, `validate-${WORKERS}.cpuprofile`);
    fs.writeFileSync(file, JSON.stringify(profile));
    console.log(`  CPU profile of one warm run: ${file}`);
  }
  if (values.cli) {
    cliRun(); // warms the page cache and V8's compile cache
    const samples = Array.from({ length: RUNS }, cliRun);
    report(`bin/muster.js validate process (${RUNS} runs)`, samples);
  }
  console.log(`load average at the end ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
}

await main();
