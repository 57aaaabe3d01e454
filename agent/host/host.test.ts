import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { AgentError } from '../errors.js';
import { Host } from './host.js';
import { DEFAULT_ALLOWED_TREES, checkPath } from './path-policy.js';
import { run } from './exec.js';

const trees = ['/etc/kubernetes', '/srv/kubernetes'];

test('path policy: refuses .., NUL, relative paths, outside trees and prefix tricks', () => {
  for (const bad of [
    '/etc/kubernetes/../passwd',
    '/etc/kubernetes/manifests/..',
    '/etc/kubernetes/a\0b',
    'etc/kubernetes/a',
    '/etc/passwd',
    '/etc/kubernetes-evil/x',
    '',
  ]) {
    assert.throws(() => checkPath(bad, trees), (e: unknown) => e instanceof AgentError && e.code === 'PATH_NOT_ALLOWED', JSON.stringify(bad));
  }
  assert.equal(checkPath('/etc/kubernetes//manifests/./etcd.yaml', trees), '/etc/kubernetes/manifests/etcd.yaml');
  assert.equal(checkPath('/srv/kubernetes/ca.crt', DEFAULT_ALLOWED_TREES), '/srv/kubernetes/ca.crt');
});

async function tempHost(t: { after(fn: () => Promise<void>): void }) {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-hosttest-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  return { root, host: new Host({ root, allowedTrees: trees, stateDir: '/var/lib/musterd' }) };
}

test('host: a symlink that leaves the allowed trees is refused, and nothing is written through it', async (t) => {
  const { root, host } = await tempHost(t);
  const outside = path.join(root, 'etc/shadow-dir');
  await fs.mkdir(outside, { recursive: true });
  await fs.mkdir(path.join(root, 'etc/kubernetes'), { recursive: true });
  await fs.symlink(outside, path.join(root, 'etc/kubernetes/manifests'));
  await assert.rejects(host.writeAtomic('/etc/kubernetes/manifests/x.yaml', Buffer.from('x'), { mode: 0o600 }), /escapes the allowed trees/);
  assert.deepEqual(await fs.readdir(outside), []);

  // A managed file that is itself a link is never followed: not for reading, not for writing.
  await fs.symlink('/etc/hostname', path.join(root, 'etc/kubernetes/hostname'));
  await assert.rejects(host.read('/etc/kubernetes/hostname'), /is a symlink, not a regular file/);
  await host.writeAtomic('/etc/kubernetes/hostname', Buffer.from('mine'), { mode: 0o644 }, null);
  assert.ok(!(await fs.lstat(path.join(root, 'etc/kubernetes/hostname'))).isSymbolicLink(), 'the link itself was replaced');
  assert.notEqual(await fs.readFile('/etc/hostname', 'utf8'), 'mine');
});

test('host: a symlink that stays inside the allowed trees is followed', async (t) => {
  const { root, host } = await tempHost(t);
  await fs.mkdir(path.join(root, 'srv/kubernetes/real'), { recursive: true });
  await fs.mkdir(path.join(root, 'etc/kubernetes'), { recursive: true });
  await fs.symlink(path.join(root, 'srv/kubernetes/real'), path.join(root, 'etc/kubernetes/pki'));
  await host.writeAtomic('/etc/kubernetes/pki/a', Buffer.from('a'), { mode: 0o644 });
  assert.equal(await fs.readFile(path.join(root, 'srv/kubernetes/real/a'), 'utf8'), 'a');
});

test('host: atomic write leaves no temp file, a failed write leaves the old file whole', async (t) => {
  const { root, host } = await tempHost(t);
  await host.writeAtomic('/etc/kubernetes/a.conf', Buffer.from('old'), { mode: 0o644 });
  // A uid that cannot be set fails after the temp file is written: the temp must go, the old stays.
  if (process.getuid?.() !== 0) return t.skip('needs root to try chown');
  await assert.rejects(host.writeAtomic('/etc/kubernetes/a.conf', Buffer.from('new'), { mode: 0o644, uid: 2 ** 32 }));
  assert.deepEqual(await fs.readdir(path.join(root, 'etc/kubernetes')), ['a.conf']);
  assert.equal(await fs.readFile(path.join(root, 'etc/kubernetes/a.conf'), 'utf8'), 'old');
});

test('host: sweepTemp removes what an interrupted write left', async (t) => {
  const { root, host } = await tempHost(t);
  await host.writeAtomic('/etc/kubernetes/a.conf', Buffer.from('a'), { mode: 0o644 });
  await fs.writeFile(path.join(root, 'etc/kubernetes/.a.conf.muster-tmp-abc123'), 'partial');
  const removed = await host.sweepTemp(['/etc/kubernetes/a.conf']);
  assert.equal(removed.length, 1);
  assert.deepEqual(await fs.readdir(path.join(root, 'etc/kubernetes')), ['a.conf']);
});

test('exec: captures output, reports a non-zero exit, kills on timeout', async () => {
  const ok = await run('sh', ['-c', 'echo out; echo err >&2']);
  assert.deepEqual([ok.code, ok.stdout, ok.stderr], [0, 'out\n', 'err\n']);
  await assert.rejects(run('sh', ['-c', 'echo boom >&2; exit 3']), (e: unknown) => e instanceof AgentError && e.code === 'EXEC_FAILED' && /exit 3: boom/.test(e.message));
  assert.equal((await run('sh', ['-c', 'exit 4'], { allowFailure: true })).code, 4);
  const started = Date.now();
  await assert.rejects(run('sh', ['-c', 'sleep 5; echo late'], { timeoutMs: 200 }), (e: unknown) => e instanceof AgentError && e.code === 'EXEC_TIMEOUT');
  assert.ok(Date.now() - started < 4000, 'the child was killed, not waited for');
  await assert.rejects(run('/no/such/program', []), /EXEC_FAILED|no\/such/);
});
