import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createCA, inspectCertificate, issueCertificate, type KeyAlgorithm } from './certs.js';

for (const alg of ['ecdsa-p256', 'rsa-2048'] as KeyAlgorithm[]) {
  test(`certs (${alg}): a CA and a leaf that chains to it, with the subject, SANs and usages asked for`, () => {
    const ca = createCA('test CA', { keyAlgorithm: alg });
    const leaf = issueCertificate(ca, {
      commonName: 'kube-apiserver',
      organizations: ['system:masters'],
      organizationalUnits: ['controller'],
      dnsNames: ['kubernetes', 'kubernetes.default.svc'],
      ipAddresses: ['10.96.0.1', 'fd00::1'],
      usages: ['server', 'client'],
      keyAlgorithm: alg,
    });
    const caX = new X509Certificate(ca.certPem);
    const x = new X509Certificate(leaf.certPem);
    assert.ok(caX.ca && !x.ca);
    assert.ok(x.verify(caX.publicKey), 'signed by the CA');
    assert.ok(x.checkIssued(caX));
    assert.ok(x.checkPrivateKey(createPrivateKey(leaf.keyPem)));
    assert.deepEqual(x.keyUsage.sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    const info = inspectCertificate(leaf.certPem);
    assert.equal(info.commonName, 'kube-apiserver');
    assert.deepEqual(info.organizations, ['system:masters']);
    assert.deepEqual(info.organizationalUnits, ['controller']);
    assert.deepEqual(info.dnsNames, ['kubernetes', 'kubernetes.default.svc']);
    assert.deepEqual(info.ipAddresses, ['10.96.0.1', 'fd00::1']);
    assert.ok(info.daysLeft >= 364 && info.daysLeft <= 365);
  });
}

test('certs: openssl agrees the chain verifies and reads the extensions', (t) => {
  let openssl = true;
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    openssl = false;
  }
  if (!openssl) return t.skip('openssl not installed');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muster-certs-'));
  try {
    const ca = createCA('test CA');
    const leaf = issueCertificate(ca, { commonName: 'n1', dnsNames: ['n1'], usages: ['server'] });
    fs.writeFileSync(path.join(dir, 'ca.crt'), ca.certPem);
    fs.writeFileSync(path.join(dir, 'leaf.crt'), leaf.certPem);
    const out = execFileSync('openssl', ['verify', '-CAfile', path.join(dir, 'ca.crt'), '-purpose', 'sslserver', path.join(dir, 'leaf.crt')], { encoding: 'utf8' });
    assert.match(out, /leaf\.crt: OK/);
    const text = execFileSync('openssl', ['x509', '-in', path.join(dir, 'leaf.crt'), '-noout', '-text'], { encoding: 'utf8' });
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(text, /X509v3 Authority Key Identifier/);
    assert.match(text, /X509v3 Subject Key Identifier/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('certs: a leaf from another CA does not verify', () => {
  const a = createCA('a');
  const b = createCA('b');
  const leaf = issueCertificate(a, { commonName: 'x', usages: ['client'] });
  assert.equal(new X509Certificate(leaf.certPem).verify(new X509Certificate(b.certPem).publicKey), false);
});
