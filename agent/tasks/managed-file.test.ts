import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffFile, octal } from './managed-file.js';

const have = (content: string, mode = 0o644) => ({ content: Buffer.from(content), mode, uid: 0, gid: 0 });

test('managed file: the diff shows what differs, content and mode apart', () => {
  const want = { path: '/etc/kubernetes/a.conf', content: Buffer.from('new\n'), mode: 0o600 };
  assert.deepEqual(diffFile(want, null), [{ header: '/etc/kubernetes/a.conf', before: '(absent)', after: 'new\n' }]);
  assert.deepEqual(diffFile(want, have('new\n', 0o600)), []);
  assert.deepEqual(diffFile(want, have('new\n', 0o644)), [{ header: '/etc/kubernetes/a.conf mode', before: '0644', after: '0600' }]);
  assert.deepEqual(diffFile(want, have('old\n', 0o600)), [{ header: '/etc/kubernetes/a.conf', before: 'old\n', after: 'new\n' }]);
  assert.equal(octal(0o4755), '04755');
});

test('managed file: a secret shows only its size; a description that cannot parse the old bytes says so', () => {
  const secret = { path: '/srv/kubernetes/sa.key', content: Buffer.from('NEW-KEY-BYTES'), mode: 0o600, secret: true };
  const d = diffFile(secret, have('OLD-KEY', 0o600));
  assert.deepEqual(d, [{ header: '/srv/kubernetes/sa.key', before: '(secret, 7 bytes, differs)', after: '(secret, 13 bytes)' }]);
  assert.ok(!JSON.stringify(d).includes('KEY-BYTES'));
  const described = { path: '/srv/kubernetes/server.cert', content: Buffer.from('good'), mode: 0o644, describe: (c: Buffer) => {
    if (c.toString() !== 'good') throw new Error('not a certificate');
    return 'subject=CN=x';
  } };
  assert.deepEqual(diffFile(described, have('garbage', 0o644)), [{ header: '/srv/kubernetes/server.cert', before: '(unreadable, 7 bytes)', after: 'subject=CN=x' }]);
});
