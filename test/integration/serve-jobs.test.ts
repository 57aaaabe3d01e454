import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Agent } from '../../agent/agent.js';
import type { ApiError, ControllerClient } from '../../controller/api/client.js';
import type { Job } from '../../controller/app/jobs.js';
import type { RunSummary } from '../../controller/app/run.js';
import { serve, type Listening } from '../../controller/app/serve.js';
import type { RolloutStatus } from '../../controller/rollout/control.js';
import type { HistoryEntry, JournalEntry, RolloutRecord } from '../../controller/store/store.js';
import { apiClient, fileOnNodes, kubeletTasks } from '../helpers/api.js';
import { countApplies, repoRoot, workerFleet, type TestFleet } from '../helpers/fleet.js';

// muster serve as the controller: applies and rollouts started through its API run as jobs on
// the channels it holds to four real agents on loopback (mTLS gRPC), gated on each worker's
// kubelet probe against a stand-in kubelet /healthz (no kubelet on this machine).
let f: TestFleet;
let agents: Agent[];
let workers: Awaited<ReturnType<typeof workerFleet>>;
let kubeletUrl = '';
let server: Listening;
let operator: ControllerClient;
let reader: ControllerClient;
const names = ['s1', 's2', 's3', 's4'];
const file = '/etc/kubernetes/app.conf';
let applyCalls: Record<string, number> = {};

const tasks = (content: string) => kubeletTasks(f.dir, kubeletUrl, file, content);
const hosts = () => fileOnNodes(f, names, file);

async function until<T>(what: string, ms: number, poll: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await poll();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(50);
  }
}
const ended = (c: ControllerClient, id: string) => until(`job ${id} to end`, 60_000, async () => {
  const j = await c.get<Job>(`/v1/jobs/${id}`);
  return j.state === 'running' ? undefined : j;
});
const startServe = (sweepMs?: number) => serve({ state: f.state, inventory: f.inventoryFile, listen: '127.0.0.1:0', enroll: false, sweepMs });

before(async () => {
  workers = await workerFleet(4, 's');
  ({ f, agents, kubeletUrl } = workers);
  applyCalls = countApplies(agents);
  server = await startServe();
  operator = await apiClient(f.state, server.url, 'operator', 'alice');
  reader = await apiClient(f.state, server.url, 'reader', 'grafana');
});

after(async () => {
  operator?.close();
  reader?.close();
  await server?.close();
  await workers?.stop();
});

test('serve jobs: POST /v1/apply converges every node on serve\'s held channels and records it by the certificate\'s name; a reader may not', async () => {
  const refused = await reader.post('/v1/apply', { tasks: await tasks('one') }).catch((e: ApiError) => e);
  assert.equal((refused as ApiError).code, 'ROLE_REFUSED');
  assert.deepEqual(await hosts(), names.map(() => '(absent)'), 'the reader changed nothing');
  const { job } = await operator.post<{ job: Job }>('/v1/apply', { tasks: await tasks('one') });
  assert.equal(job.state, 'running');
  const done = await ended(operator, job.id);
  assert.equal(done.state, 'done', JSON.stringify(done.error));
  const summary = done.result as RunSummary;
  assert.deepEqual([summary.counts.total, summary.counts.changed], [4, 4]);
  assert.deepEqual(await hosts(), names.map(() => 'one\n'));
  const history = await reader.get<{ entries: HistoryEntry[] }>('/v1/history?node=s1&limit=5');
  assert.deepEqual(history.entries.slice(0, 2).map((h) => [h.action, h.result, h.operator.user]), [['apply', 'changed', 'alice'], ['plan', 'recorded', 'alice']]);
  const bad = await operator.post<{ job: Job }>('/v1/apply', { tasks: path.join(f.dir, 'missing.yaml') });
  const failed = await ended(operator, bad.job.id);
  assert.equal(failed.state, 'failed');
  assert.match(failed.error!.message, /missing\.yaml/);
});

test('serve jobs: a rollout started through the API, paused through it mid-way, then resumed through it: done, every node applied once', async () => {
  const before = { ...applyCalls };
  const journal: JournalEntry[] = [];
  const stream = reader.events((name, data) => name === 'journal' && journal.push(data as JournalEntry));
  try {
    await stream.opened;
    const { job } = await operator.post<{ job: Job }>('/v1/rollouts', { tasks: await tasks('two'), options: { batch: '1', soakMs: { worker: 1500 }, pollMs: 100, gateTimeoutMs: { worker: 20_000 } } });
    // Paused while the first node soaks: the batch in flight finishes, nothing more is sent.
    const first = await until('the first dispatch on the event stream', 20_000, () => journal.find((e) => e.step === 'dispatched'));
    const paused = await operator.post<RolloutRecord>(`/v1/rollouts/${first.rolloutId}/pause`, { reason: 'look first' });
    assert.equal(paused.state, 'paused');
    const stopped = await ended(operator, job.id);
    assert.equal(stopped.state, 'done', JSON.stringify(stopped.error));
    assert.equal(stopped.rolloutId, first.rolloutId);
    assert.equal((await reader.get<RolloutStatus>(`/v1/rollouts/${first.rolloutId}`)).rollout.state, 'paused');
    const changed = (await hosts()).filter((h) => h === 'two\n').length;
    assert.equal(changed, 1, 'only the node in flight was changed');

    const refused = await reader.post(`/v1/rollouts/${first.rolloutId}/resume`).catch((e: ApiError) => e);
    assert.equal((refused as ApiError).code, 'ROLE_REFUSED');
    assert.equal((await reader.get<RolloutStatus>(`/v1/rollouts/${first.rolloutId}`)).rollout.state, 'paused', 'the reader resumed nothing');

    const resumed = await operator.post<RolloutRecord>(`/v1/rollouts/${first.rolloutId}/resume`);
    assert.equal(resumed.state, 'running');
    const again = await operator.post(`/v1/rollouts/${first.rolloutId}/resume`).catch((e: ApiError) => e);
    assert.equal((again as ApiError).code, 'ROLLOUT_LOCKED', 'one job at a time');
    const last = await until('the resumed rollout to end', 60_000, async () => {
      const [r] = (await reader.get<{ rollouts: RolloutRecord[] }>('/v1/rollouts?limit=1')).rollouts;
      return r.state === 'running' ? undefined : r;
    });
    assert.equal(last.state, 'done', last.reason);
    assert.deepEqual(await hosts(), names.map(() => 'two\n'));
    assert.deepEqual(names.map((n) => applyCalls[n] - before[n]), [1, 1, 1, 1], 'each agent applied once');
    const h = await reader.get<{ entries: HistoryEntry[] }>('/v1/history?limit=50');
    const mine = h.entries.filter((e) => e.subject === first.rolloutId && ['pause', 'resume'].includes(e.action));
    assert.deepEqual(mine.map((e) => [e.action, e.operator.user]), [['resume', 'alice'], ['pause', 'alice']]);
    assert.ok(journal.some((e) => e.step === 'healthy' && e.node === 's4'), 'the journal came live over /v1/events');
  } finally {
    stream.close();
  }
});

test('serve jobs: serve stopped mid-rollout leaves it running; the next serve, leading, takes it up from the journal with nothing sent twice', async () => {
  const before = { ...applyCalls };
  const body = { tasks: await tasks('three'), options: { batch: '1', soakMs: { worker: 800 }, pollMs: 100, gateTimeoutMs: { worker: 20_000 } } };
  // The resume job of the test before may still be writing its last history line.
  const { job } = await until('the rollout job to start', 10_000, () => operator.post<{ job: Job }>('/v1/rollouts', body).catch((e: ApiError) => {
    if (e.code === 'ROLLOUT_LOCKED') return undefined;
    throw e;
  }));
  const id = await until('the rollout id', 20_000, async () => (await operator.get<Job>(`/v1/jobs/${job.id}`)).rolloutId);
  await until('a second node dispatched', 20_000, async () => ((await reader.get<RolloutStatus>(`/v1/rollouts/${id}`)).nodes.filter((n) => n.step !== 'pending').length >= 2 ? true : undefined));
  operator.close();
  reader.close();
  await server.close();
  const left = (await hosts()).filter((h) => h === 'three\n').length;
  assert.ok(left >= 1 && left < 4, `stopped part-way (${left} of 4 changed)`);
  server = await startServe();
  operator = await apiClient(f.state, server.url, 'operator', 'alice');
  reader = await apiClient(f.state, server.url, 'reader', 'grafana');
  const done = await until('the rollout taken over and done', 60_000, async () => {
    const s = await reader.get<RolloutStatus>(`/v1/rollouts/${id}`);
    return s.rollout.state === 'running' ? undefined : s;
  });
  assert.equal(done.rollout.state, 'done', done.rollout.reason);
  assert.deepEqual(await hosts(), names.map(() => 'three\n'));
  assert.deepEqual(names.map((n) => applyCalls[n] - before[n]), [1, 1, 1, 1], 'each agent applied once across the restart');
  const h = await reader.get<{ entries: HistoryEntry[] }>('/v1/history?limit=5');
  assert.ok(h.entries.some((e) => e.subject === id && e.action === 'rollout' && e.result === 'done'));
});

test('serve jobs: a CLI rollout killed with SIGKILL beside a leading serve is taken up by serve and finished, nothing sent twice', async () => {
  // A serve that looks for orphaned rollouts every 300 ms instead of 15 s.
  operator.close();
  reader.close();
  await server.close();
  server = await startServe(300);
  operator = await apiClient(f.state, server.url, 'operator', 'alice');
  reader = await apiClient(f.state, server.url, 'reader', 'grafana');
  const before = { ...applyCalls };
  const previous = (await reader.get<{ rollouts: RolloutRecord[] }>('/v1/rollouts?limit=1')).rollouts[0]?.id;
  const cli = spawn(process.execPath, [path.join(repoRoot, 'bin/muster.js'), '-s', f.state, '-i', f.inventoryFile, 'rollout', '-t', await tasks('four'), '--batch', '1', '--yes', '--soak', 'worker=800ms', '--gate-timeout', '20s', '--poll', '100ms'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => cli.once('exit', () => r()));
  const id = await until('the CLI\'s rollout to dispatch twice', 30_000, async () => {
    const [r] = (await reader.get<{ rollouts: RolloutRecord[] }>('/v1/rollouts?limit=1')).rollouts;
    if (!r || r.id === previous) return undefined;
    const s = await reader.get<RolloutStatus>(`/v1/rollouts/${r.id}`);
    return s.nodes.filter((n) => n.step !== 'pending').length >= 2 ? r.id : undefined;
  });
  // While the CLI lives it holds the rollout lock: serve must not drive the rollout too.
  assert.equal((await reader.get<RolloutStatus>(`/v1/rollouts/${id}`)).rollout.state, 'running');
  cli.kill('SIGKILL');
  await exited;
  const done = await until('serve to take the orphaned rollout up and finish it', 60_000, async () => {
    const s = await reader.get<RolloutStatus>(`/v1/rollouts/${id}`);
    return s.rollout.state === 'running' ? undefined : s;
  });
  assert.equal(done.rollout.state, 'done', done.rollout.reason);
  assert.deepEqual(await hosts(), names.map(() => 'four\n'));
  assert.deepEqual(names.map((n) => applyCalls[n] - before[n]), [1, 1, 1, 1], 'each agent applied once, by the CLI or by serve');
});
