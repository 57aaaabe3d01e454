import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { tempHost } from '../../test/helpers/host.js';
import { appendTo, timeline } from '../../test/helpers/timeline.js';

timeline({
  name: 'file (content)',
  task: { id: 'f', file: { path: '/etc/kubernetes/a.conf', content: Buffer.from('a=1\n'), mode: 0o640, owner: 'root', group: 'root', secret: false } },
  drift: appendTo('/etc/kubernetes/a.conf'),
});

timeline({
  name: 'file (mode)',
  task: { id: 'f', file: { path: '/etc/kubernetes/b.conf', content: Buffer.from('b\n'), mode: 0o600, owner: '', group: '', secret: false } },
  drift: async (real) => fs.chmod(real('/etc/kubernetes/b.conf'), 0o666),
});

timeline({
  name: 'file (deleted)',
  task: { id: 'f', file: { path: '/srv/kubernetes/known_tokens.csv', content: Buffer.from('tok,user,1\n'), mode: 0, owner: '', group: '', secret: true } },
  drift: async (real) => fs.rm(real('/srv/kubernetes/known_tokens.csv')),
});

test('file: a secret never shows in the diff', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const secret = 'token-abcdef0123456789,admin,1';
  const task = { id: 's', file: { path: '/srv/kubernetes/known_tokens.csv', content: Buffer.from(secret), mode: 0, owner: '', group: '', secret: true } };
  const first = (await h.run([task])).results[0];
  await fs.writeFile(h.real('/srv/kubernetes/known_tokens.csv'), 'token-old-value,admin,1');
  const second = (await h.run([task])).results[0];
  for (const r of [first, second]) {
    const text = JSON.stringify(r);
    assert.ok(!text.includes('abcdef0123456789') && !text.includes('old-value'), text);
  }
  assert.equal(second.status, TaskStatus.TASK_STATUS_CHANGED);
  const st = await fs.stat(h.real('/srv/kubernetes/known_tokens.csv'));
  assert.equal(st.mode & 0o777, 0o600, 'secrets default to 0600');
});

test('file: an owner that does not exist is refused before anything is written', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const { results } = await h.run([{ id: 'o', file: { path: '/etc/kubernetes/o', content: Buffer.from('x'), mode: 0, owner: 'no-such-user-x', group: '', secret: false } }]);
  assert.equal(results[0].status, TaskStatus.TASK_STATUS_FAILED);
  assert.equal(results[0].errorCode, 'UNKNOWN_OWNER');
  await assert.rejects(fs.stat(h.real('/etc/kubernetes/o')));
});

test('file: replacing keeps a backup in the state folder, never beside the file', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const p = '/etc/kubernetes/manifests/x.conf';
  await h.run([{ id: 'a', file: { path: p, content: Buffer.from('one\n'), mode: 0, owner: '', group: '', secret: false } }]);
  await h.run([{ id: 'a', file: { path: p, content: Buffer.from('two\n'), mode: 0, owner: '', group: '', secret: false } }]);
  assert.deepEqual(await fs.readdir(h.real('/etc/kubernetes/manifests')), ['x.conf']);
  const backups = h.host.statePath('backups', 'etc%kubernetes%manifests%x.conf');
  const kept = await fs.readdir(backups);
  assert.equal(kept.length, 1);
  assert.equal(await fs.readFile(`${backups}/${kept[0]}`, 'utf8'), 'one\n');
});
