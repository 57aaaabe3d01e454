// GetStatus latency from another client while the agent runs a plan of the largest size
// (MAX_PLAN_TASKS file tasks): once writing every file, once with every file already converged
// (all synchronous reads, the case that used to hold the event loop). The agent is a separate
// musterd process, and so is the controller that applies (decoding 10,000 results would slow
// the poller's own event loop); this process polls GetStatus every 20 ms.
//   tsx test/bench/status-latency.ts [--tasks N]
import * as grpc from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MAX_PLAN_TASKS } from '../../agent/engine/engine.js';
import { fleetStore } from '../../controller/pki/fleet.js';
import { AgentServiceClient, ApplyMode, Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import { makeFleet, repoRoot, waitForPort } from '../helpers/fleet.js';

const { values } = parseArgs({ options: { tasks: { type: 'string', default: String(MAX_PLAN_TASKS) }, apply: { type: 'string' } } });
const n = Number(values.tasks);
const tasks = Array.from({ length: n }, (_, i) => ({ id: `f${i}`, file: { path: `/etc/kubernetes/bench/f${i}.conf`, content: Buffer.from(`${i}\n`), mode: 0o644 } }));

// The applying controller: --apply '<json: port, name, ca, cert, key, revision>'.
if (values.apply) {
  const a = JSON.parse(values.apply) as { port: number; name: string; ca: string; cert: string; key: string; revision: string };
  const client = new AgentServiceClient(`127.0.0.1:${a.port}`, grpc.credentials.createSsl(Buffer.from(a.ca), Buffer.from(a.key), Buffer.from(a.cert)), { 'grpc.ssl_target_name_override': a.name, 'grpc.max_send_message_length': 128 << 20 });
  await new Promise<void>((resolve, reject) => {
    const call = client.apply({ mode: ApplyMode.APPLY_MODE_APPLY, plan: Plan.fromPartial({ node: a.name, revision: a.revision, tasks }) }, { deadline: Date.now() + 600_000 });
    call.on('data', () => {});
    call.on('error', reject);
    call.on('end', () => resolve());
  });
  client.close();
  process.exit(0);
}

const f = await makeFleet(1);
const node = f.inventory.nodes[0];
const store = fleetStore(f.state);
await fs.mkdir(f.nodeRoot(node.name), { recursive: true });
const agent = spawn(process.execPath, [
  path.join(repoRoot, 'bin/musterd.js'), '--name', node.name, '--listen', `127.0.0.1:${node.agentPort}`, '--http', 'off',
  '--root', f.nodeRoot(node.name), '--tls-ca', store.file('ca', 'crt'), '--tls-cert', store.file(`agents/${node.name}`, 'crt'),
  '--tls-key', store.file(`agents/${node.name}`, 'key'), '--log-level', 'warn',
], { stdio: ['ignore', 'inherit', 'inherit'] });
await waitForPort('127.0.0.1', node.agentPort, 30_000);
const [ca, controller] = [await store.read('ca'), await store.read('controller')];
const reader = new AgentServiceClient(`127.0.0.1:${node.agentPort}`, grpc.credentials.createSsl(Buffer.from(ca!.certPem), Buffer.from(controller!.keyPem), Buffer.from(controller!.certPem)), { 'grpc.ssl_target_name_override': node.name });
const getStatus = () => new Promise<number>((resolve, reject) => {
  const t0 = performance.now();
  reader.getStatus({}, new grpc.Metadata(), { deadline: Date.now() + 60_000 }, (err) => (err ? reject(err) : resolve(performance.now() - t0)));
});

async function measure(label: string, revision: string): Promise<void> {
  const latencies: number[] = [];
  let running = true;
  const started = performance.now();
  const poll = (async () => {
    while (running) {
      latencies.push(await getStatus());
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const spec = JSON.stringify({ port: node.agentPort, name: node.name, ca: ca!.certPem, cert: controller!.certPem, key: controller!.keyPem, revision });
  const applier = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--tasks', String(n), '--apply', spec], { stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise((r) => applier.once('exit', r));
  if (code !== 0) throw new Error(`the applying process exited ${code}`);
  const ms = performance.now() - started;
  running = false;
  await poll;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1);
  console.log(`${label}: ${n} tasks in ${(ms / 1000).toFixed(1)} s; GetStatus x${latencies.length}: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`);
}

try {
  await measure('first apply (writes every file)', 'r1');
  await measure('converged re-run (reads only)', 'r2');
} finally {
  reader.close();
  agent.kill('SIGTERM');
  await new Promise((r) => agent.once('exit', r));
  await f.cleanup();
}
