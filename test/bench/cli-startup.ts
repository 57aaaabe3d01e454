// CLI start-up: `muster --help` and `muster plan` against three agents (the demo's tasks), wall
// time of the whole process, median of --runs.
//   npm run build && npm run bench:cli [-- --runs 15 --cli dist/cli/muster.js]
// The agents are three musterd processes on loopback (free ports), made as the demo makes them.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, waitForPort } from '../helpers/fleet.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' }, cli: { type: 'string', default: path.join(repo, 'dist/cli/muster.js') } } });
const RUNS = Number(values.runs);
const CLI = path.resolve(values.cli!);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timed(args: string[], expect: number[]): number[] {
  const times: number[] = [];
  for (let i = 0; i < RUNS + 1; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    const ms = performance.now() - t;
    if (!expect.includes(r.status ?? -1)) throw new Error(`muster ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    if (i > 0) times.push(ms); // the first run warms the page cache
  }
  return times;
}

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'muster-bench-cli-'));
  const procs: ReturnType<typeof spawn>[] = [];
  try {
    const names = ['m1', 'm2', 'm3'];
    const ports = await Promise.all(names.map(() => freePort()));
    const inventory = path.join(work, 'inventory.yaml');
    fs.writeFileSync(inventory, `cluster: demo\nnodes:\n${names.map((n, i) => `  - { name: ${n}, address: 127.0.0.1, agentPort: ${ports[i]}, roles: [etcd, control-plane] }`).join('\n')}\n`);
    const state = path.join(work, 'state');
    const base = ['-s', state, '-i', inventory];
    execFileSync(process.execPath, [CLI, ...base, 'init'], { stdio: 'ignore' });
    const pki = path.join(state, 'pki/fleet');
    for (const [i, n] of names.entries()) {
      const root = path.join(work, 'nodes', n);
      fs.mkdirSync(root, { recursive: true });
      procs.push(spawn(process.execPath, [path.join(repo, 'bin/musterd.js'), '--name', n, '--listen', `127.0.0.1:${ports[i]}`, '--http', 'off', '--root', root,
        '--tls-ca', path.join(pki, 'ca.crt'), '--tls-cert', path.join(pki, 'agents', `${n}.crt`), '--tls-key', path.join(pki, 'agents', `${n}.key`), '--log-level', 'warn'], { stdio: 'ignore' }));
    }
    await Promise.all(ports.map((p) => waitForPort('127.0.0.1', p, 20_000)));
    const tasks = path.join(repo, 'examples/demo/tasks.yaml');
    execFileSync(process.execPath, [CLI, ...base, 'apply', '-t', tasks], { stdio: 'ignore' });
    const help = timed(['--help'], [0]);
    const plan = timed([...base, 'plan', '-t', tasks], [0]);
    console.log(`cli: ${path.relative(repo, CLI)} on node ${process.version}, ${RUNS} runs each`);
    console.log(`muster --help: median ${median(help).toFixed(0)} ms (min ${Math.min(...help).toFixed(0)}, max ${Math.max(...help).toFixed(0)})`);
    console.log(`muster plan (3 agents, converged): median ${median(plan).toFixed(0)} ms (min ${Math.min(...plan).toFixed(0)}, max ${Math.max(...plan).toFixed(0)})`);
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();
