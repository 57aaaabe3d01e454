import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { caCertHash } from '../../common/ca-hash.js';
import { testCerts, issueCertificate } from '../../test/helpers/certs.js';
import { fetchPinnedCa } from './pin.js';

async function serve(cert: string, key: string): Promise<{ port: number; close(): void; got: () => number }> {
  let bytes = 0;
  const srv = tls.createServer({ cert, key }, (s) => s.on('data', (d) => (bytes += d.length)));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as AddressInfo).port, close: () => srv.close(), got: () => bytes };
}

test('pin: the CA whose key hash is pinned is returned; another hash is refused naming both', async () => {
  const { ca } = testCerts();
  const leaf = issueCertificate(ca, { commonName: 'muster-controller', ipAddresses: ['127.0.0.1'], usages: ['server'] });
  const s = await serve(leaf.certPem + ca.certPem, leaf.keyPem);
  try {
    assert.equal(await fetchPinnedCa('127.0.0.1', s.port, caCertHash(ca.certPem)), ca.certPem);
    const other = caCertHash(testCerts().other.certPem);
    await assert.rejects(fetchPinnedCa('127.0.0.1', s.port, other), (e: Error) => e.message.includes(other) && e.message.includes(caCertHash(ca.certPem)));
    await assert.rejects(fetchPinnedCa('127.0.0.1', s.port, 'sha256:beef'), /64 hex digits/);
    assert.equal(s.got(), 0, 'nothing was sent after the handshake');
  } finally {
    s.close();
  }
});

test('pin: a server that shows the real CA but whose certificate another CA signed is refused', async () => {
  const { ca, other } = testCerts();
  const impostor = issueCertificate(other, { commonName: 'muster-controller', ipAddresses: ['127.0.0.1'], usages: ['server'] });
  const s = await serve(impostor.certPem + ca.certPem, impostor.keyPem);
  try {
    // Node builds the presented chain by issuer, so the unrelated CA never counts as this server's.
    await assert.rejects(fetchPinnedCa('127.0.0.1', s.port, caCertHash(ca.certPem)), /not the one pinned|not signed by the pinned CA/);
  } finally {
    s.close();
  }
});

test('pin: a certificate from the pinned CA for another host is refused', async () => {
  const { ca } = testCerts();
  const leaf = issueCertificate(ca, { commonName: 'elsewhere', dnsNames: ['elsewhere'], usages: ['server'] });
  const s = await serve(leaf.certPem + ca.certPem, leaf.keyPem);
  try {
    await assert.rejects(fetchPinnedCa('127.0.0.1', s.port, caCertHash(ca.certPem)), /not for 127\.0\.0\.1/);
  } finally {
    s.close();
  }
});
