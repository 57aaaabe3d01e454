import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { ApplyMode, Plan, TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { Engine } from './engine.js';
import { silent, tempHost } from '../../test/helpers/host.js';

const file = (id: string, p: string, content: string, notify: string[] = ['reload']) => ({ id, notify, file: { path: p, content: Buffer.from(content) } });

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const h = await tempHost();
  t.after(h.cleanup);
  const marker = path.join(h.root, 'reloads.log');
  const handlers = [{ id: 'reload', command: ['sh', '-c', `echo reloaded >> ${marker}`], timeoutMs: 5000 }];
  const reloads = async () => (await fs.readFile(marker, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
  return { h, handlers, reloads };
}

test('handlers: two changed tasks notify once; an unchanged plan notifies nothing', async (t) => {
  const { h, handlers, reloads } = await setup(t);
  const tasks = [file('a', '/etc/haproxy/haproxy.cfg', 'a'), file('b', '/etc/keepalived/keepalived.conf', 'b')];
  const first = await h.run(tasks, ApplyMode.APPLY_MODE_APPLY, handlers);
  assert.deepEqual(first.results.map((r) => [r.id, TaskStatus[r.status]]).at(-1), ['handler:reload', 'TASK_STATUS_CHANGED']);
  assert.equal(await reloads(), 1);
  const second = await h.run(tasks, ApplyMode.APPLY_MODE_APPLY, handlers);
  assert.equal(second.results.length, 2, 'no handler event when nothing changed');
  assert.equal(await reloads(), 1);
});

test('handlers: a failure later in the plan never loses the reload', async (t) => {
  const { h, handlers, reloads } = await setup(t);
  await fs.mkdir(h.real('/etc/kubernetes'), { recursive: true });
  await fs.writeFile(h.real('/etc/kubernetes/blocker'), 'x');
  const failing = [file('a', '/etc/haproxy/haproxy.cfg', 'a'), file('b', '/etc/kubernetes/blocker/x', 'b', [])];
  const { results } = await h.run(failing, ApplyMode.APPLY_MODE_APPLY, handlers);
  const handler = results.find((r) => r.id === 'handler:reload')!;
  assert.equal(handler.status, TaskStatus.TASK_STATUS_SKIPPED);
  assert.match(handler.errorMessage, /owed/);
  assert.equal(await reloads(), 0);

  // The agent restarts; the debt is on disk.
  const again = new Engine(h.host, silent);
  await again.init();
  await fs.rm(h.real('/etc/kubernetes/blocker'));
  const fixed = [file('a', '/etc/haproxy/haproxy.cfg', 'a'), file('b', '/etc/kubernetes/c', 'b', [])];
  const out: { id: string; status: TaskStatus }[] = [];
  await again.run(Plan.fromPartial({ node: 'test', revision: 'r2', tasks: fixed, handlers }), { mode: ApplyMode.APPLY_MODE_APPLY, onResult: (r) => out.push(r) });
  assert.equal(out.find((r) => r.id === 'a')?.status, TaskStatus.TASK_STATUS_OK, 'the config itself did not change again');
  assert.equal(out.find((r) => r.id === 'handler:reload')?.status, TaskStatus.TASK_STATUS_CHANGED, 'the owed reload ran');
  assert.equal(await reloads(), 1);
});

test('handlers: check mode says which would run, and runs none', async (t) => {
  const { h, handlers, reloads } = await setup(t);
  const { results } = await h.run([file('a', '/etc/haproxy/haproxy.cfg', 'a')], ApplyMode.APPLY_MODE_CHECK, handlers);
  assert.equal(results.at(-1)?.id, 'handler:reload');
  assert.equal(results.at(-1)?.status, TaskStatus.TASK_STATUS_WOULD_CHANGE);
  assert.equal(await reloads(), 0);
});

test('handlers: a failing handler is reported and stays owed', async (t) => {
  const { h } = await setup(t);
  const broken = [{ id: 'reload', command: ['sh', '-c', 'echo "haproxy: config invalid" >&2; exit 1'], timeoutMs: 5000 }];
  const { results, summary } = await h.run([file('a', '/etc/haproxy/haproxy.cfg', 'a')], ApplyMode.APPLY_MODE_APPLY, broken);
  const r = results.at(-1)!;
  assert.equal(r.status, TaskStatus.TASK_STATUS_FAILED);
  assert.equal(r.errorCode, 'EXEC_FAILED');
  assert.match(r.errorMessage, /config invalid.*still owed/);
  assert.equal(summary.converged, false);
  const owed = JSON.parse(await fs.readFile(h.host.statePath('owed-handlers.json'), 'utf8'));
  assert.deepEqual(owed.map((x: { id: string }) => x.id), ['reload']);
});

test('handlers: notifying a handler the plan does not define is a plan error', async (t) => {
  const { h } = await setup(t);
  const { results } = await h.run([file('a', '/etc/haproxy/haproxy.cfg', 'a', ['nope'])], ApplyMode.APPLY_MODE_APPLY, []);
  assert.equal(results[0].errorCode, 'INVALID_PLAN');
  assert.match(results[0].errorMessage, /notifies nope/);
});

test('handlers: an owed handler runs the command the current plan gives it, once the spec fixes it', async (t) => {
  const { h, handlers, reloads } = await setup(t);
  const tasks = [file('a', '/etc/haproxy/haproxy.cfg', 'a')];
  const broken = [{ id: 'reload', command: ['sh', '-c', 'exit 3'], timeoutMs: 5000 }];
  const first = await h.run(tasks, ApplyMode.APPLY_MODE_APPLY, broken);
  assert.equal(first.results.at(-1)?.status, TaskStatus.TASK_STATUS_FAILED, 'the bad reload fails and stays owed');
  const fixed = await h.run(tasks, ApplyMode.APPLY_MODE_APPLY, handlers);
  assert.equal(fixed.results.find((r) => r.id === 'a')?.status, TaskStatus.TASK_STATUS_OK);
  assert.equal(fixed.results.at(-1)?.status, TaskStatus.TASK_STATUS_CHANGED, 'the fixed command ran');
  assert.equal(await reloads(), 1);
  const after = await h.run(tasks, ApplyMode.APPLY_MODE_APPLY, handlers);
  assert.equal(after.results.length, 1, 'paid: nothing owed any more');
});

test('handlers: an owed id that left the plan runs the command it was recorded with', async (t) => {
  const { h, handlers, reloads } = await setup(t);
  await fs.mkdir(h.real('/etc/kubernetes'), { recursive: true });
  await fs.writeFile(h.real('/etc/kubernetes/blocker'), 'x');
  await h.run([file('a', '/etc/haproxy/haproxy.cfg', 'a'), file('b', '/etc/kubernetes/blocker/x', 'b', [])], ApplyMode.APPLY_MODE_APPLY, handlers);
  assert.equal(await reloads(), 0, 'owed, not run: the plan stopped');
  const { results } = await h.run([file('a', '/etc/haproxy/haproxy.cfg', 'a', [])], ApplyMode.APPLY_MODE_APPLY, []);
  assert.equal(results.at(-1)?.status, TaskStatus.TASK_STATUS_CHANGED);
  assert.equal(await reloads(), 1);
});
