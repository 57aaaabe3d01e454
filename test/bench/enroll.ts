// 1,000 nodes joining at once, and the controller's responsiveness meanwhile.
//   npm run bench:enroll [-- --nodes 1000]
// The enrollment service runs in this process with a status prober (GetTrust with the
// controller's certificate every 20 ms); the joining nodes run in a child process, each with its
// own TLS connections: the pin check, then Join over gRPC. Node keys and CSRs are made in the
// child before the clock starts (on real nodes each machine makes its own, in parallel).
import * as grpc from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { enrollClient } from '../../agent/join/client.js';
import { makeKeyAndCsr } from '../../agent/join/csr.js';
import { fetchPinnedCa } from '../../agent/join/pin.js';
import { Enrollment } from '../../controller/enroll/enrollment.js';
import { startEnrollServer } from '../../controller/enroll/server.js';
import { createToken } from '../../controller/enroll/tokens.js';
import { initFleet, readFleetCredentials } from '../../controller/pki/fleet.js';
import { EnrollServiceClient } from '../../proto/gen/muster/controller/v1/enroll.js';

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '1000' }, joiner: { type: 'string' } } });
const N = Number(values.nodes);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const facts = { machineId: '', hostname: '', macs: [], diskSerials: [] };

async function joiner(cfg: { controller: string; hash: string; token: string }) {
  const csrs = await Promise.all(Array.from({ length: N }, (_, i) => makeKeyAndCsr({ name: `n${i}` })));
  process.send!({ ready: true });
  await new Promise((r) => process.once('message', r));
  const started = performance.now();
  const [host, port] = cfg.controller.split(':');
  const done: number[] = [];
  const pins: number[] = [];
  const calls: number[] = [];
  const errors: string[] = [];
  await Promise.all(
    csrs.map(async ({ csrPem }) => {
      try {
        const t0 = performance.now();
        const ca = await fetchPinnedCa(host, Number(port), cfg.hash, 60_000);
        const t1 = performance.now();
        pins.push(t1 - t0);
        const c = enrollClient(cfg.controller, { ca: Buffer.from(ca) }, 60_000);
        try {
          await c.join({ token: cfg.token, csrPem, facts });
          calls.push(performance.now() - t1);
        } finally {
          c.close();
        }
        done.push(performance.now() - started);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }),
  );
  process.send!({ wallMs: performance.now() - started, joined: done.length, p50: pct(done, 50), p99: pct(done, 99), pinP50: pct(pins, 50), joinCallP50: pct(calls, 50), joinerCpuMs: process.cpuUsage().user / 1000, errors: errors.slice(0, 3), errorCount: errors.length });
}

async function main() {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'muster-bench-enroll-'));
  await initFleet(state, { file: 'inventory.yaml', cluster: 'bench', nodes: [] });
  const nodes = Array.from({ length: N }, (_, i) => ({ name: `n${i}`, address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, hostname: `n${i}`, labels: { pool: 'bench' } }));
  const enrollment = new Enrollment({ stateDir: state, nodes: () => nodes });
  const server = await startEnrollServer({ enrollment, listen: { host: '127.0.0.1', port: 0 } });
  const { token } = await createToken(enrollment.tokens, { labels: { pool: 'bench' }, uses: N });
  const creds = await readFleetCredentials(state);
  const prober = new EnrollServiceClient(`127.0.0.1:${server.port}`, grpc.credentials.createSsl(Buffer.from(creds.ca.certPem), Buffer.from(creds.controller.keyPem), Buffer.from(creds.controller.certPem)), { 'grpc.ssl_target_name_override': 'muster-controller' });
  const probe = () => new Promise<number>((resolve, reject) => {
    const t = performance.now();
    prober.getTrust({}, (err) => (err ? reject(err) : resolve(performance.now() - t)));
  });
  await probe();

  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--nodes', String(N), '--joiner', JSON.stringify({ controller: `127.0.0.1:${server.port}`, hash: server.caCertHash, token })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise((r) => child.once('message', r));
  const cpu0 = process.cpuUsage();
  const latencies: number[] = [];
  let probing = true;
  const loop = (async () => {
    while (probing) {
      latencies.push(await probe());
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  child.send({ go: true });
  const result = (await new Promise((r) => child.once('message', r))) as Record<string, unknown>;
  probing = false;
  await loop;
  const cpu = process.cpuUsage(cpu0);
  const issued = fs.readdirSync(path.join(state, 'enroll', 'nodes')).filter((f) => f.endsWith('.crt')).length;
  console.log(JSON.stringify({ nodes: N, ...result, issued, statusCalls: latencies.length, statusP50: pct(latencies, 50), statusP99: pct(latencies, 99), statusMax: Math.max(...latencies), controllerCpuMs: Math.round((cpu.user + cpu.system) / 1000) }, (_, v) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v)));
  prober.close();
  await server.stop();
  fs.rmSync(state, { recursive: true, force: true });
}

if (values.joiner) await joiner(JSON.parse(values.joiner));
else await main();
