// Drift repair latency and the agent's idle footprint, on one real musterd process.
//   npm run build && npm run bench:drift [-- --edits 100 --idle-seconds 60 --agent dist/agent/main.js]
// --agent: the built agent to run (default dist/agent/main.js, what `npm run build` makes).
// Latency: an outside edit (or deletion) of a managed file, until the agent has put the planned
// bytes back (seen from outside, polling every millisecond), p50 and p99; and the agent's own
// event-to-fsync time from its drift events. Idle: RSS and CPU of the process over a quiet minute.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Fleet } from '../../controller/fleet/fleet.js';
import { fleetStore, initFleet, readFleetCredentials } from '../../controller/pki/fleet.js';
import type { Inventory } from '../../controller/inputs/inventory.js';
import { ApplyMode, Plan, type DriftEvent } from '../../proto/gen/muster/agent/v1/agent.js';
import { freePort, waitForPort } from '../helpers/fleet.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({ options: { edits: { type: 'string', default: '100' }, 'idle-seconds': { type: 'string', default: '60' }, agent: { type: 'string', default: 'dist/agent/main.js' } } });
const EDITS = Number(values.edits);
const IDLE_S = Number(values['idle-seconds']);
const work = path.join(repo, '.bench', 'drift');
const root = path.join(work, 'root');
const main = path.resolve(repo, values.agent!);
if (!fs.existsSync(main)) throw new Error(`${main} is missing: build first (npm run build); the bench runs the built agent, as nodes do`);

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function procStats(pid: number): { rssKiB: number; cpuTicks: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { rssKiB: Number(/VmRSS:\s+(\d+)/.exec(status)![1]), cpuTicks: Number(stat[11]) + Number(stat[12]) };
}

async function main_() {
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(root, { recursive: true });
  const port = await freePort();
  // The HTTP endpoints are on, as in the shipped config: their memory counts.
  const httpPort = await freePort();
  const inv: Inventory = { file: '(bench)', cluster: 'bench', nodes: [{ name: 'd1', address: '127.0.0.1', hostname: 'd1', agentPort: port, roles: ['control-plane'], labels: {} }] };
  const state = path.join(work, 'state');
  await initFleet(state, inv);
  const pki = fleetStore(state);
  const nodeFlags = (process.env.MUSTERD_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const agent = spawn(process.execPath, [...nodeFlags, main, '--name', 'd1', '--listen', `127.0.0.1:${port}`, '--http', `127.0.0.1:${httpPort}`, '--root', root,
    '--tls-ca', pki.file('ca', 'crt'), '--tls-cert', pki.file('agents/d1', 'crt'), '--tls-key', pki.file('agents/d1', 'key'), '--log-level', process.env.MUSTERD_LOG_LEVEL ?? 'error'], { stdio: ['ignore', process.env.MUSTERD_LOG_FILE ? fs.openSync(process.env.MUSTERD_LOG_FILE, 'w') : 'inherit', 'inherit'] });
  try {
    await waitForPort('127.0.0.1', port, 20_000);
    const fleet = new Fleet(inv.nodes, await readFleetCredentials(state));
    const files = Array.from({ length: 10 }, (_, i) => ({ path: `/etc/kubernetes/managed-${i}.conf`, content: `setting-${i}=on\n`.repeat(20) }));
    const plan = Plan.fromPartial({ node: 'd1', revision: 'bench', tasks: files.map((f, i) => ({ id: `f${i}`, file: { path: f.path, content: Buffer.from(f.content) } })) });
    const out = await fleet.run([plan], { mode: ApplyMode.APPLY_MODE_APPLY, concurrency: 1, timeoutMs: 30_000 });
    if (!out[0].summary?.converged) throw new Error(`apply failed: ${out[0].error}`);
    const reported: DriftEvent[] = [];
    const cancel = fleet.client(inv.nodes[0]).watch((e) => e.drift && reported.push(e.drift), () => {});
    await sleep(300);

    const measure = async (kind: 'edit' | 'delete') => {
      const ms: number[] = [];
      for (let i = 0; i < EDITS; i++) {
        const f = files[i % files.length];
        const real = path.join(root, f.path);
        const t0 = performance.now();
        if (kind === 'edit') fs.writeFileSync(real, 'tampered\n');
        else fs.rmSync(real);
        for (;;) {
          let now = '';
          try {
            now = fs.readFileSync(real, 'utf8');
          } catch {
            // not back yet
          }
          if (now === f.content) break;
          if (performance.now() - t0 > 5000) throw new Error(`${f.path} not restored within 5 s`);
          await sleep(1);
        }
        ms.push(performance.now() - t0);
        await sleep(20); // let the watcher settle between edits, as separate human edits would
      }
      return ms;
    };
    const edits = await measure('edit');
    const deletions = await measure('delete');
    await sleep(200);
    cancel();
    const agentUs = reported.filter((d) => d.repaired).map((d) => d.repairUs / 1000);
    const line = (name: string, xs: number[]) => console.log(`${name}: n=${xs.length} p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`);
    line('edit → restored (seen from outside)', edits);
    line('delete → restored (seen from outside)', deletions);
    line('agent: file event → restored and fsynced', agentUs);

    fleet.close();
    // Idle: nothing changes for a while; the agent keeps watching and re-checking.
    await sleep(2000);
    const hz = 100; // USER_HZ on Linux
    const a = procStats(agent.pid!);
    const t0 = Date.now();
    let peak = a.rssKiB;
    while (Date.now() - t0 < IDLE_S * 1000) {
      await sleep(1000);
      peak = Math.max(peak, procStats(agent.pid!).rssKiB);
    }
    const b = procStats(agent.pid!);
    const cpuPct = ((b.cpuTicks - a.cpuTicks) / hz / ((Date.now() - t0) / 1000)) * 100;
    console.log(`idle over ${IDLE_S} s on Node ${process.version}: RSS ${(b.rssKiB / 1024).toFixed(1)} MiB (peak ${(peak / 1024).toFixed(1)} MiB), CPU ${cpuPct.toFixed(2)} % of one core`);
    console.log(JSON.stringify({ edits: EDITS, editP50: pct(edits, 50), editP99: pct(edits, 99), deleteP50: pct(deletions, 50), deleteP99: pct(deletions, 99), idleRssMiB: b.rssKiB / 1024, idleCpuPct: cpuPct }));
  } finally {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
  }
}

await main_();
