import assert from 'node:assert/strict';
import { test } from 'node:test';
import { issueCertificate, testCerts } from '../../test/helpers/certs.js';
import { RevokedSerials, renewAt } from './lifecycle.js';

test('lifecycle: renewal is due two thirds into the life, earlier by up to a tenth of it with jitter', () => {
  const from = new Date(Math.floor(Date.now() / 1000) * 1000);
  const to = new Date(from.getTime() + 90 * 86_400_000);
  const { certPem } = issueCertificate(testCerts().ca, { commonName: 'n1', usages: ['server'], notBefore: from, notAfter: to });
  const life = to.getTime() - from.getTime();
  assert.equal(renewAt(certPem, 0), from.getTime() + (life * 2) / 3);
  assert.equal(renewAt(certPem, 1), from.getTime() + (life * 2) / 3 - life / 10);
});

test('lifecycle: revoked serials match whatever case and leading zeros the TLS layer prints', () => {
  const r = new RevokedSerials();
  r.set(3, ['00ab12', 'CD34']);
  assert.ok(r.has('AB12'));
  assert.ok(r.has('cd34'));
  assert.ok(!r.has('AB13'));
  assert.equal(r.version, 3);
});
