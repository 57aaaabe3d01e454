import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { ApplyMode, Plan, TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { Task } from '../../proto/gen/muster/agent/v1/tasks.js';
import { snapshot, tempHost } from '../../test/helpers/host.js';
import { Engine, runTask } from './engine.js';
import { silent } from '../../test/helpers/host.js';
import { FakeKernel } from '../host/kernel.js';

const file = (id: string, path: string, content = id): Task => Task.fromPartial({ id, file: { path, content: Buffer.from(content), mode: 0, owner: '', group: '', secret: false } });

test('engine: tasks run in order; a failed task stops the plan and the rest are skipped', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  // b fails at write time: its parent is a file, which validation cannot know.
  await fs.mkdir(h.real('/etc/kubernetes'), { recursive: true });
  await fs.writeFile(h.real('/etc/kubernetes/blocker'), 'x');
  const { results, summary } = await h.run([file('a', '/etc/kubernetes/a'), file('b', '/etc/kubernetes/blocker/b'), file('c', '/etc/kubernetes/c')]);
  assert.deepEqual(results.map((r) => [r.id, TaskStatus[r.status]]), [
    ['a', 'TASK_STATUS_CHANGED'],
    ['b', 'TASK_STATUS_FAILED'],
    ['c', 'TASK_STATUS_SKIPPED'],
  ]);
  assert.equal(summary.failedTask, 'b');
  assert.equal(summary.converged, false);
  await assert.rejects(fs.stat(h.real('/etc/kubernetes/c')));
});

test('engine: a plan with one invalid task touches nothing at all', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const before = await snapshot(h.root);
  const { results, summary } = await h.run([file('a', '/etc/kubernetes/a'), file('b', '/etc/passwd'), file('c', '/etc/kubernetes/c')]);
  assert.deepEqual(results.map((r) => TaskStatus[r.status]), ['TASK_STATUS_SKIPPED', 'TASK_STATUS_FAILED', 'TASK_STATUS_SKIPPED']);
  assert.equal(results[1].errorCode, 'PATH_NOT_ALLOWED');
  assert.equal(summary.failedTask, 'b');
  assert.deepEqual(await snapshot(h.root), before);
});

test('engine: duplicate ids, two tasks on one path, and a task without spec are plan errors', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const dup = await h.run([file('a', '/etc/kubernetes/a'), file('a', '/etc/kubernetes/b')]);
  assert.equal(dup.results[1].errorCode, 'INVALID_PLAN');
  const same = await h.run([file('a', '/etc/kubernetes/a'), file('b', '/etc/kubernetes/a')]);
  assert.match(same.results[1].errorMessage, /both manage file:\/etc\/kubernetes\/a/);
  const empty = await h.run([{ id: 'x' }]);
  assert.equal(empty.results[0].errorCode, 'INVALID_PLAN');
});

test('engine: check mode reports would-change and saves no state', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const { results, summary } = await h.run([file('a', '/etc/kubernetes/a')], ApplyMode.APPLY_MODE_CHECK);
  assert.equal(results[0].status, TaskStatus.TASK_STATUS_WOULD_CHANGE);
  assert.equal(summary.wouldChange, 1);
  assert.equal(h.engine.status.revision, '');
  await assert.rejects(fs.stat(h.real('/etc/kubernetes/a')));
});

test('engine: the last applied plan and revision survive a restart', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  await h.run([file('a', '/etc/kubernetes/a')]);
  const again = new Engine(h.host, silent);
  await again.init();
  assert.equal(again.status.revision, 'r1');
  assert.equal(again.status.plan?.tasks[0].id, 'a');
  assert.equal(again.status.lastResult?.changed, 1);
  const st = await fs.stat(h.host.statePath('plan.pb'));
  assert.equal(st.mode & 0o777, 0o600, 'the plan holds keys');
});

test('engine: an applied plan is saved with its generation; a check or a refused plan does not record it', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const plan = (tasks: Task[]) => Plan.fromPartial({ node: 'n1', revision: 'r1', tasks });
  await h.engine.run(plan([file('a', '/etc/kubernetes/a')]), { mode: ApplyMode.APPLY_MODE_CHECK, generation: 3 });
  assert.equal(h.engine.state.generation, 0, 'a check changes nothing');
  await h.engine.run(plan([file('a', '/etc/passwd')]), { mode: ApplyMode.APPLY_MODE_APPLY, generation: 4 });
  assert.equal(h.engine.state.generation, 0, 'the engine does not take a refused plan');
  await h.engine.run(plan([file('a', '/etc/kubernetes/a')]), { mode: ApplyMode.APPLY_MODE_APPLY, generation: 5 });
  const again = new Engine(h.host, silent);
  await again.init();
  assert.equal(again.state.generation, 5);
});

test('engine: a second run while one is in flight is refused', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const tasks = Array.from({ length: 20 }, (_, i) => file(`t${i}`, `/etc/kubernetes/f${i}`));
  const first = h.run(tasks);
  await assert.rejects(h.run([file('x', '/etc/kubernetes/x')]), /another apply is running/);
  await first;
});

test('engine: drain lets the task in flight finish and skips the rest', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const tasks = Array.from({ length: 50 }, (_, i) => file(`t${i}`, `/etc/kubernetes/f${i}`));
  const running = h.run(tasks);
  await new Promise((r) => setImmediate(r));
  await h.engine.drain();
  const { results } = await running;
  const skipped = results.filter((r) => r.status === TaskStatus.TASK_STATUS_SKIPPED);
  assert.ok(skipped.length > 0 && skipped.every((r) => r.errorCode === 'SHUTTING_DOWN'));
  const names = await fs.readdir(h.real('/etc/kubernetes'));
  assert.ok(names.every((n) => !n.startsWith('.')), 'no temp file left');
  assert.equal(names.length, results.filter((r) => r.status === TaskStatus.TASK_STATUS_CHANGED).length);
});

test('engine: a task whose apply leaves a difference fails with NOT_CONVERGED', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const stubborn = {
    kind: 'stubborn',
    keys: () => ['x'],
    validate: () => [],
    observe: async () => 'old',
    diff: (_s: unknown, o: unknown) => (o === 'new' ? [] : [{ header: 'x', before: String(o), after: 'new' }]),
    apply: async () => {},
  };
  const r = await runTask({ id: 's', kind: 'stubborn', task: stubborn, spec: {} }, ApplyMode.APPLY_MODE_APPLY, { host: h.host, log: silent, kernel: new FakeKernel() });
  assert.equal(r.status, TaskStatus.TASK_STATUS_FAILED);
  assert.equal(r.errorCode, 'NOT_CONVERGED');
  assert.match(r.errorMessage, /still differs after apply: x/);
});

test('engine: a drift check queued behind a controller apply uses the new plan, never the one before', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const planOf = (v: string) => Plan.fromPartial({ node: 'test', revision: v, tasks: Array.from({ length: 30 }, (_, i) => file(`t${i}`, `/etc/kubernetes/f${i}`, v)) });
  await h.engine.run(planOf('a'), { mode: ApplyMode.APPLY_MODE_APPLY });
  const apply = h.engine.run(planOf('b'), { mode: ApplyMode.APPLY_MODE_APPLY });
  const drift = h.engine.reconcile('all', ApplyMode.APPLY_MODE_APPLY);
  await Promise.all([apply, drift]);
  for (let i = 0; i < 30; i++) assert.equal(await fs.readFile(h.real(`/etc/kubernetes/f${i}`), 'utf8'), 'b');
  assert.equal(h.engine.status.revision, 'b');
});

test('engine: a task\'s warnings reach its result', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const warns = {
    kind: 'warns',
    keys: () => ['w'],
    validate: () => [],
    observe: async () => 'x',
    diff: () => [],
    apply: async () => {},
    verify: async (_s: unknown, ctx: { warn?(m: string): void }) => {
      ctx.warn?.('systemd is not PID 1 here');
      ctx.warn?.('systemd is not PID 1 here');
      return { healthy: true };
    },
  };
  const r = await runTask({ id: 'w', kind: 'warns', task: warns, spec: {} }, ApplyMode.APPLY_MODE_APPLY, { host: h.host, log: silent, kernel: new FakeKernel() });
  assert.deepEqual(r.warnings, ['systemd is not PID 1 here']);
});
