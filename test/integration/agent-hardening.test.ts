// The agent as a real musterd process under attack and load: a FIFO at a managed path, a kill -9
// restart with a large saved plan, plans past the task cap, and status calls during a big plan.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { MAX_PLAN_TASKS } from '../../agent/engine/engine.js';
import { fleetStore } from '../../controller/pki/fleet.js';
import { AgentServiceClient, ApplyMode, Plan, TaskStatus, type ApplyResponse, type NodeStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import type { DeepPartial, Task } from '../../proto/gen/muster/agent/v1/tasks.js';
import { freePort, makeFleet, repoRoot, waitForPort, type TestFleet } from '../helpers/fleet.js';

let f: TestFleet;
let agent: ChildProcess | undefined;
let httpPort: number;
let client: AgentServiceClient;
let reader: AgentServiceClient;

const node = () => f.inventory.nodes[0];

async function startMusterd(): Promise<void> {
  const store = fleetStore(f.state);
  await fs.mkdir(f.nodeRoot(node().name), { recursive: true });
  agent = spawn(process.execPath, [
    path.join(repoRoot, 'bin/musterd.js'),
    '--name', node().name,
    '--listen', `127.0.0.1:${node().agentPort}`,
    '--http', `127.0.0.1:${httpPort}`,
    '--root', f.nodeRoot(node().name),
    '--tls-ca', store.file('ca', 'crt'),
    '--tls-cert', store.file(`agents/${node().name}`, 'crt'),
    '--tls-key', store.file(`agents/${node().name}`, 'key'),
    // error: the restart test repairs 1,000 deleted files, each a drift warning in the test output
    '--log-level', 'error',
  ], { stdio: ['ignore', 'inherit', 'inherit'] });
}

async function kill9(): Promise<void> {
  const p = agent;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  await new Promise((resolve) => {
    p.once('exit', resolve);
    p.kill('SIGKILL');
  });
}

before(async () => {
  f = await makeFleet(1);
  httpPort = await freePort();
  const store = fleetStore(f.state);
  const [ca, controller] = [await store.read('ca'), await store.read('controller')];
  const creds = () => grpc.credentials.createSsl(Buffer.from(ca!.certPem), Buffer.from(controller!.keyPem), Buffer.from(controller!.certPem));
  // Two channels: the second stands for another client (a status watcher, the CLI).
  client = new AgentServiceClient(`127.0.0.1:${node().agentPort}`, creds(), { 'grpc.ssl_target_name_override': node().name, 'grpc.max_send_message_length': 128 << 20 });
  reader = new AgentServiceClient(`127.0.0.1:${node().agentPort}`, creds(), { 'grpc.ssl_target_name_override': node().name, 'grpc.use_local_subchannel_pool': 1 });
  await startMusterd();
  await waitForPort('127.0.0.1', node().agentPort, 30_000);
});

after(async () => {
  client?.close();
  reader?.close();
  await kill9();
  await f?.cleanup();
});

function plan(tasks: DeepPartial<Task>[], revision = 'r1'): Plan {
  return Plan.fromPartial({ node: node().name, revision, tasks });
}

const fileTask = (i: number, dir = 'many'): DeepPartial<Task> => ({ id: `f${i}`, file: { path: `/etc/kubernetes/${dir}/f${i}.conf`, content: Buffer.from(`${i}\n`), mode: 0o644 } });

// The apply stream; onEvent sees each event as it arrives.
function apply(p: Plan, onEvent: (e: ApplyResponse) => void = () => {}): Promise<{ events: ApplyResponse[]; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    const events: ApplyResponse[] = [];
    const call = client.apply({ mode: ApplyMode.APPLY_MODE_APPLY, plan: p }, { deadline: Date.now() + 120_000 });
    call.on('data', (e: ApplyResponse) => {
      events.push(e);
      onEvent(e);
    });
    call.on('error', (error: grpc.ServiceError) => resolve({ events, error }));
    call.on('end', () => resolve({ events }));
  });
}

function getStatus(timeoutMs = 5000): Promise<NodeStatus> {
  return new Promise((resolve, reject) => reader.getStatus({}, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res!.status!))));
}

async function readyz(): Promise<{ code: number; reason?: string } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`, { signal: AbortSignal.timeout(2000) });
    return { code: res.status, reason: ((await res.json()) as { reason?: string }).reason };
  } catch {
    return undefined;
  }
}

test('a FIFO at a managed path fails that task clearly, and another client still gets its status', { timeout: 60_000 }, async () => {
  const fifo = path.join(f.nodeRoot(node().name), 'etc/kubernetes/fifo/x.conf');
  await fs.mkdir(path.dirname(fifo), { recursive: true });
  await new Promise<void>((resolve, reject) => spawn('mkfifo', [fifo]).once('exit', (c) => (c === 0 ? resolve() : reject(new Error(`mkfifo exit ${c}`)))));
  const running = apply(plan([{ id: 'x', file: { path: '/etc/kubernetes/fifo/x.conf', content: Buffer.from('x\n'), mode: 0o644 } }], 'fifo'));
  const status = await getStatus(3000);
  assert.equal(status.node, node().name, 'GetStatus answers while the FIFO sits at the target');
  const { events, error } = await running;
  assert.equal(error, undefined);
  const task = events.find((e) => e.task)!.task!;
  assert.equal(task.status, TaskStatus.TASK_STATUS_FAILED);
  assert.equal(task.errorCode, 'NOT_REGULAR_FILE');
  assert.match(task.errorMessage, /\/etc\/kubernetes\/fifo\/x\.conf is a FIFO, not a regular file/);
  assert.ok((await fs.lstat(fifo)).isFIFO(), 'the FIFO is left as it was');
  // Gone again, or the next plan's removal of x.conf would meet it (and rightly refuse).
  await fs.rm(fifo);
});

test('a plan past the task cap is refused whole with INVALID_ARGUMENT, and nothing is written', { timeout: 60_000 }, async () => {
  const tasks = Array.from({ length: MAX_PLAN_TASKS + 1 }, (_, i) => fileTask(i, 'capped'));
  const { events, error } = await apply(plan(tasks, 'too-big'));
  assert.equal(error?.code, grpc.status.INVALID_ARGUMENT);
  assert.match(error?.details ?? '', /^PLAN_TOO_LARGE: the plan has 10001 tasks; an agent takes at most 10000/);
  assert.equal(events.length, 0);
  await assert.rejects(fs.access(path.join(f.nodeRoot(node().name), 'etc/kubernetes/capped')), /ENOENT/);
});

// The latency itself is measured with a plan of the largest size in test/bench/status-latency.ts.
const BIG = 2000;

test('status calls are answered while a big plan runs', { timeout: 120_000 }, async () => {
  const big = plan(Array.from({ length: BIG }, (_, i) => fileTask(i)), 'big');
  assert.equal((await apply(big)).events.at(-1)?.summary?.converged, true);
  // Converged already: every task is a synchronous read, the case that used to hold the event
  // loop. A new revision of the same tasks: the status names it only once the run has ended.
  let asked: Promise<NodeStatus> | undefined;
  const { events } = await apply({ ...big, revision: 'big-2' }, () => {
    asked ??= getStatus(10_000);
  });
  const answer = await asked!;
  assert.equal(events.at(-1)?.summary?.ok, BIG);
  assert.equal(answer.node, node().name);
  assert.equal(answer.revision, 'big', 'GetStatus was answered while the plan still ran');
});

test('after kill -9 the agent serves first, says "converging", and is ready as soon as the repair is done', { timeout: 180_000 }, async () => {
  const manifest = 'apiVersion: v1\nkind: Pod\nmetadata: { name: etcd, namespace: kube-system }\nspec:\n  containers: [{ name: etcd, image: registry.k8s.io/etcd:3.5.15-0 }]\n';
  const tasks: DeepPartial<Task>[] = [{ id: 'etcd', staticPod: { name: 'etcd', manifest } }, ...Array.from({ length: 1000 }, (_, i) => fileTask(i, 'restart'))];
  assert.equal((await apply(plan(tasks, 'restart'))).events.at(-1)?.summary?.converged, true);
  await kill9();
  // While it is down: the manifest is edited and every file is gone, so the replay has work to do.
  const root = f.nodeRoot(node().name);
  await fs.writeFile(path.join(root, 'etc/kubernetes/manifests/etcd.yaml'), manifest.replace('3.5.15-0', 'evil'));
  await fs.rm(path.join(root, 'etc/kubernetes/restart'), { recursive: true });
  await startMusterd();

  const answers: { code: number; reason?: string }[] = [];
  for (;;) {
    const a = await readyz();
    if (a) answers.push(a);
    if (a?.code === 200) break;
    if (a && !a.reason?.startsWith('converging')) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(answers.length > 1, 'answered while the start-up reconcile ran');
  assert.match(answers[0].reason ?? '', /^converging: the start-up reconcile of revision restart is running$/);
  assert.equal(answers.at(-1)!.code, 200, `the first answer after converging is ready (was: ${answers.at(-1)!.reason})`);
  assert.equal((await fs.readdir(path.join(root, 'etc/kubernetes/restart'))).length, 1000, 'every file is back');
});
