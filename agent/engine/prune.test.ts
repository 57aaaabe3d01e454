import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { ApplyMode, Plan, TaskStatus, type TaskResult } from '../../proto/gen/muster/agent/v1/agent.js';
import { Task, type DeepPartial } from '../../proto/gen/muster/agent/v1/tasks.js';
import { silent, snapshot, tempHost } from '../../test/helpers/host.js';
import { Engine } from './engine.js';

const file = (id: string, path: string, extra: DeepPartial<Task> = {}): DeepPartial<Task> => ({ id, file: { path, content: Buffer.from(`${id}\n`), mode: 0o644 }, ...extra });
const X = '/etc/kubernetes/x.conf';
const Y = '/etc/kubernetes/y.conf';
const POD = { id: 'pod', staticPod: { name: 'old', manifest: 'apiVersion: v1\nkind: Pod\nmetadata: {name: old}\nspec: {containers: [{name: c, image: i}]}\n' } };
const summary = (rs: TaskResult[]) => rs.map((r) => `${r.removal ? 'remove ' : ''}${r.id} ${TaskStatus[r.status].replace('TASK_STATUS_', '').toLowerCase()}`);
const exists = (p: string) => fs.stat(p).then(() => true, () => false);

test('prune: a file that leaves the plan is removed and reported as a removal; check mode only says so', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  await h.run([file('x', X), file('y', Y)]);
  const before = await snapshot(h.root);
  const check = await h.run([file('x', X)], ApplyMode.APPLY_MODE_CHECK);
  assert.deepEqual(summary(check.results), ['remove y would_change', 'x ok']);
  assert.deepEqual(check.results[0].diffs, [{ header: Y, before: 'y\n', after: '(absent)' }]);
  assert.deepEqual(await snapshot(h.root), before, 'check mode touched nothing');

  const apply = await h.run([file('x', X)]);
  assert.deepEqual(summary(apply.results), ['remove y changed', 'x ok']);
  assert.equal(await exists(h.real(Y)), false);
  assert.equal(await exists(h.real(X)), true);
  assert.deepEqual(summary((await h.run([file('x', X)])).results), ['x ok'], 'removed once');
});

test('prune: kept with keep_removed (prune: false) on the plan, or keep_when_removed on the task', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  await h.run([file('x', X), file('y', Y, { keepWhenRemoved: true })]);
  assert.deepEqual(summary((await h.run([file('x', X)])).results), ['x ok']);
  assert.equal(await exists(h.real(Y)), true);

  await h.run([file('x', X), file('z', '/etc/kubernetes/z.conf')]);
  const plan = Plan.fromPartial({ node: 'test', revision: 'r2', keepRemoved: true, tasks: [Task.fromPartial(file('x', X))] });
  const results: TaskResult[] = [];
  await h.engine.run(plan, { mode: ApplyMode.APPLY_MODE_APPLY, onResult: (r) => results.push(r) });
  assert.deepEqual(summary(results), ['x ok']);
  assert.equal(await exists(h.real('/etc/kubernetes/z.conf')), true);
});

test('prune: a path that moves to another task is not removed; static pods go first', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  await h.run([file('a', X), file('y', Y), POD]);
  const r = await h.run([file('b', X)]);
  assert.deepEqual(summary(r.results), ['remove pod changed', 'remove y changed', 'b changed']);
  assert.equal(await exists(h.real(X)), true);
  assert.equal(await exists(h.real('/etc/kubernetes/manifests/old.yaml')), false);
});

test('prune: a removal that fails stops the plan and is tried again at the next apply, across restarts', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  await h.run([file('x', X), file('y', Y)]);
  // Something else put a folder where the file was: the removal cannot go through.
  await fs.rm(h.real(Y));
  await fs.mkdir(h.real(Y));
  const failed = await h.run([file('x', X)]);
  assert.deepEqual(summary(failed.results), ['remove y failed', 'x skipped']);
  assert.equal(failed.results[0].errorCode, 'NOT_REGULAR_FILE');

  // The new plan is the node's plan now; the removal is still owed, also to a restarted engine.
  const restarted = new Engine(h.host, silent);
  await restarted.init();
  const again: TaskResult[] = [];
  await fs.rmdir(h.real(Y));
  await fs.writeFile(h.real(Y), 'y\n');
  await restarted.run(Plan.fromPartial({ node: 'test', revision: 'r1', tasks: [Task.fromPartial(file('x', X))] }), { mode: ApplyMode.APPLY_MODE_APPLY, onResult: (r) => again.push(r) });
  assert.deepEqual(summary(again), ['remove y changed', 'x ok']);
  assert.equal(await exists(h.real(Y)), false);
  assert.equal(await exists(h.host.statePath('pending-removals.pb')), false, 'nothing owed any more');
});

test('prune: a drift repair never removes anything', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  await h.run([file('x', X), file('y', Y)]);
  await h.engine.reconcile('all', ApplyMode.APPLY_MODE_APPLY);
  assert.equal(await exists(h.real(Y)), true);
});
