import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { ApplyMode, TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { tempHost } from '../../test/helpers/host.js';

// The check program here is grep (a config is "valid" when it has a line "valid"); the real
// haproxy -c, nginx -t and keepalived -t run in test/system/lb-check.test.ts.
const CFG = '/etc/haproxy/haproxy.cfg';
const task = (content: string, check = ['grep', '-qx', 'valid', '{}']) => ({ id: 'cfg', notify: ['reload'], file: { path: CFG, content: Buffer.from(content), mode: 0o644, check: { command: check } } });

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const h = await tempHost();
  t.after(h.cleanup);
  const marker = h.real('/reloads');
  const handlers = [{ id: 'reload', command: ['sh', '-c', `echo reloaded >> ${marker}`], timeoutMs: 5000 }];
  const reloads = async () => (await fs.readFile(marker, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
  return { h, handlers, reloads };
}

test('file check: accepted content replaces the file and owes the reload', async (t) => {
  const { h, handlers, reloads } = await setup(t);
  const r = (await h.run([task('valid\n')], ApplyMode.APPLY_MODE_APPLY, handlers)).results;
  assert.equal(r[0].status, TaskStatus.TASK_STATUS_CHANGED, r[0].errorMessage);
  assert.equal(await fs.readFile(h.real(CFG), 'utf8'), 'valid\n');
  assert.equal(await reloads(), 1);
});

test('file check: rejected content never reaches the live path; the old file stays and no reload is owed', async (t) => {
  const { h, handlers, reloads } = await setup(t);
  await h.run([task('valid\n')], ApplyMode.APPLY_MODE_APPLY, handlers);
  const { results, summary } = await h.run([task('broken\n')], ApplyMode.APPLY_MODE_APPLY, handlers);
  assert.equal(results[0].status, TaskStatus.TASK_STATUS_FAILED);
  assert.equal(results[0].errorCode, 'CONFIG_CHECK_FAILED');
  assert.match(results[0].errorMessage, /^\/etc\/haproxy\/haproxy.cfg: grep -qx valid \{\} rejected the new content \(exit 1\).*the old file is kept$/);
  assert.equal(summary.converged, false);
  assert.equal(await fs.readFile(h.real(CFG), 'utf8'), 'valid\n', 'old file kept');
  assert.deepEqual((await fs.readdir(path.dirname(h.real(CFG)))).sort(), ['haproxy.cfg'], 'no temp file left');
  assert.equal(await reloads(), 1, 'only the first apply reloaded');
  // Fixed content goes through at the next apply.
  assert.equal((await h.run([task('valid\nvalid\n', ['grep', '-q', 'valid', '{}'])], ApplyMode.APPLY_MODE_APPLY, handlers)).results[0].status, TaskStatus.TASK_STATUS_CHANGED);
});

test('file check: a check program that is not installed fails the task and writes nothing', async (t) => {
  const { h } = await setup(t);
  const r = (await h.run([{ ...task('valid\n', ['no-such-haproxy', '-c', '-f', '{}']), notify: [] }])).results[0];
  assert.equal(r.errorCode, 'CONFIG_CHECK_FAILED');
  assert.match(r.errorMessage, /no-such-haproxy is not installed on this node/);
  await assert.rejects(fs.stat(h.real(CFG)));
});

test('file check: a check that never names the file, or has an empty argument, is refused', async (t) => {
  const { h } = await setup(t);
  for (const check of [['haproxy', '-c'], ['{}'], ['haproxy', '', '{}']]) {
    const r = (await h.run([{ ...task('valid\n', check), notify: [] }])).results[0];
    assert.equal(r.errorCode, 'INVALID_SPEC', JSON.stringify(check));
  }
});

test('file check: a mode-only change runs no check', async (t) => {
  const { h } = await setup(t);
  await h.run([{ ...task('valid\n'), notify: [] }]);
  await fs.chmod(h.real(CFG), 0o600);
  const r = (await h.run([{ ...task('valid\n', ['false', '{}']), notify: [] }])).results[0];
  assert.equal(r.status, TaskStatus.TASK_STATUS_CHANGED, r.errorMessage);
});
