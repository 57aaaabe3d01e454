import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import type { CertificateSpec } from '../../proto/gen/muster/agent/v1/tasks.js';
import { testCerts } from '../../test/helpers/certs.js';
import { snapshot, tempHost } from '../../test/helpers/host.js';
import { timeline } from '../../test/helpers/timeline.js';

const { ca, other, leaf, leaf2, expired } = testCerts();

function spec(over: Partial<CertificateSpec> = {}): CertificateSpec {
  return {
    certPath: '/srv/kubernetes/server.cert',
    certPem: leaf.certPem,
    keyPath: '/srv/kubernetes/server.key',
    keyPem: leaf.keyPem,
    caPath: '/srv/kubernetes/ca.crt',
    caPem: ca.certPem,
    owner: '',
    group: '',
    ...over,
  };
}

timeline({
  name: 'certificate (replaced by another)',
  task: { id: 'c', certificate: spec() },
  drift: async (real) => fs.writeFile(real('/srv/kubernetes/server.cert'), leaf2.certPem),
});

timeline({
  name: 'certificate (key deleted)',
  task: { id: 'c', certificate: spec() },
  drift: async (real) => fs.rm(real('/srv/kubernetes/server.key')),
});

test('certificate: key 0600, cert and CA 0644', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  await h.run([{ id: 'c', certificate: spec() }]);
  const mode = async (p: string) => (await fs.stat(h.real(p))).mode & 0o777;
  assert.equal(await mode('/srv/kubernetes/server.key'), 0o600);
  assert.equal(await mode('/srv/kubernetes/server.cert'), 0o644);
  assert.equal(await mode('/srv/kubernetes/ca.crt'), 0o644);
});

test('certificate: the diff names subjects, SANs and expiry, never key bytes', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  await h.run([{ id: 'c', certificate: spec() }]);
  const { results } = await h.run([{ id: 'c', certificate: spec({ certPem: leaf2.certPem, keyPem: leaf2.keyPem }) }]);
  const r = results[0];
  assert.equal(r.status, TaskStatus.TASK_STATUS_CHANGED);
  const cert = r.diffs.find((d) => d.header === '/srv/kubernetes/server.cert')!;
  assert.match(cert.before, /CN=kube-apiserver\b.*SANs=\[DNS:kubernetes, DNS:m1, IP Address:10.0.0.1\].*notAfter=/);
  assert.match(cert.after, /CN=kube-apiserver-2/);
  const text = JSON.stringify(r);
  const keyBody = (pem: string) => pem.split('\n').slice(1, 3).join('');
  assert.ok(!text.includes(keyBody(leaf.keyPem)) && !text.includes(keyBody(leaf2.keyPem)), 'no key bytes in the result');
  assert.ok(!text.includes('PRIVATE KEY'));
});

for (const [what, over, code] of [
  ['a key that does not match the certificate', { keyPem: leaf2.keyPem }, 'CERT_KEY_MISMATCH'],
  ['a certificate that does not chain to the CA', { caPem: other.certPem }, 'CERT_UNTRUSTED'],
  ['an expired certificate', { certPem: expired.certPem, keyPem: expired.keyPem }, 'CERT_EXPIRED'],
  ['a certificate that is not PEM', { certPem: 'hello' }, 'CERT_INVALID'],
  ['a key that is not PEM', { keyPem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }, 'CERT_INVALID'],
] as const) {
  test(`certificate: refuses ${what}, and the host stays as it was`, async (t) => {
    const h = await tempHost();
    t.after(h.cleanup);
    await h.run([{ id: 'c', certificate: spec() }]);
    const before = await snapshot(h.root);
    const { results } = await h.run([{ id: 'c', certificate: spec(over) }]);
    assert.equal(results[0].status, TaskStatus.TASK_STATUS_FAILED);
    assert.equal(results[0].errorCode, code);
    assert.ok(!JSON.stringify(results[0]).includes('PRIVATE KEY'));
    assert.deepEqual(await snapshot(h.root), before);
  });
}
