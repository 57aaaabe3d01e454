import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { makeKeyAndCsr } from '../../test/helpers/csr.js';
import { ControllerError } from '../errors.js';
import { initFleet } from '../pki/fleet.js';
import { Enrollment, listFleetCerts, renewControllerIfDue, type EnrollNode } from './enrollment.js';
import { createToken, findToken } from './tokens.js';

const nodes: EnrollNode[] = [
  { name: 'n1', address: '10.0.0.1', hostname: 'n1.lab', labels: { rack: 'r1' } },
  { name: 'n2', address: '10.0.0.2', hostname: 'n2', labels: { rack: 'r2' } },
];
const facts = { machineId: 'abc', hostname: 'n1', macs: ['52:54:00:00:00:01'], diskSerials: ['S1'] };
const code = (c: string) => (err: unknown) => {
  assert.ok(err instanceof ControllerError, String(err));
  assert.equal(err.code, c, err.message);
  return true;
};

async function setup(policy?: 'inventory' | 'approve-unknown' | 'approve-all') {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'muster-enroll-'));
  await initFleet(state, { file: 'inventory.yaml', cluster: 't', nodes: [] });
  const e = await new Enrollment({ stateDir: state, nodes: () => nodes, policy }).init();
  const issued = () => fs.readdirSync(path.join(state, 'enroll', 'nodes'));
  return { state, e, issued };
}

test('enroll: an inventory node joins: agent role only, the inventory\'s names and address, facts recorded', async () => {
  const { e, state } = await setup();
  const { token } = await createToken(e.tokens, { labels: { rack: 'r1' } });
  const { csrPem } = await makeKeyAndCsr({ name: 'n1', dnsNames: ['n1', 'n1.lab'], ipAddresses: ['10.0.0.1'] });
  const r = await e.join({ token, csrPem, facts });
  assert.equal(r.status, 'issued');
  if (r.status !== 'issued') return;
  assert.deepEqual(r.node.dnsNames, ['n1', 'n1.lab']);
  assert.deepEqual(r.node.ipAddresses, ['10.0.0.1']);
  assert.deepEqual((await e.node('n1'))?.facts, facts);
  const row = (await listFleetCerts(state)).find((x) => x.name === 'n1')!;
  assert.equal(row.role, 'agent');
  assert.ok(row.daysLeft >= 89 && row.daysLeft <= 90);
  assert.match(r.caPem, /BEGIN CERTIFICATE/);
});

test('enroll: every refusal names its reason, issues nothing and leaves the token unspent', async () => {
  const { e, issued } = await setup();
  const { token } = await createToken(e.tokens, {});
  const { token: forN1 } = await createToken(e.tokens, { node: 'n1' });
  const csr = async (o: Parameters<typeof makeKeyAndCsr>[0]) => (await makeKeyAndCsr(o)).csrPem;
  const cases: [string, () => Promise<unknown>][] = [
    ['TOKEN_INVALID', async () => e.join({ token: token.slice(0, 7) + 'a'.repeat(16), csrPem: await csr({ name: 'n1' }), facts })],
    ['TOKEN_SCOPE', async () => e.join({ token: forN1, csrPem: await csr({ name: 'n2' }), facts })],
    ['CSR_NOT_ALLOWED', async () => e.join({ token, csrPem: await csr({ name: 'n1', organizationalUnits: ['controller'] }), facts })],
    ['CSR_NOT_ALLOWED', async () => e.join({ token, csrPem: await csr({ name: 'n1', organizationalUnits: ['agent', 'reader'] }), facts })],
    ['CSR_NOT_ALLOWED', async () => e.join({ token, csrPem: await csr({ name: 'n1', dnsNames: ['n1', 'kubernetes.default'] }), facts })],
    ['CSR_NOT_ALLOWED', async () => e.join({ token, csrPem: await csr({ name: 'n1', ipAddresses: ['10.0.0.2'] }), facts })],
    ['CSR_NOT_ALLOWED', async () => e.join({ token, csrPem: await csr({ name: '' }), facts })],
    ['ENROLL_UNKNOWN_NODE', async () => e.join({ token, csrPem: await csr({ name: 'stranger' }), facts })],
    ['CSR_INVALID', async () => e.join({ token, csrPem: 'not a csr', facts })],
    ['CSR_INVALID', async () => e.join({ token, csrPem: tamper(await csr({ name: 'n1' })), facts })],
    ['CSR_INVALID', async () => e.join({ token, csrPem: await csr({ name: 'n1', key: generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey }), facts })],
    ['CSR_INVALID', async () => e.join({ token, csrPem: 'x'.repeat(20_000), facts })],
  ];
  for (const [c, run] of cases) await assert.rejects(run(), code(c));
  assert.deepEqual(issued(), []);
  assert.equal((await findToken(e.tokens, token))?.usesLeft, 1);
  assert.equal((await findToken(e.tokens, forN1))?.usesLeft, 1);
});

// The CN "n1" becomes "n9" after signing: the signature no longer covers the request.
function tamper(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const at = der.indexOf(Buffer.from('n1'));
  der[at + 1] = '9'.charCodeAt(0);
  return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
}

test('enroll: a reused token and an expired one are refused and nothing is issued', async () => {
  const { e, issued } = await setup();
  const { token } = await createToken(e.tokens, {});
  await e.join({ token, csrPem: (await makeKeyAndCsr({ name: 'n1' })).csrPem, facts });
  await assert.rejects(e.join({ token, csrPem: (await makeKeyAndCsr({ name: 'n2' })).csrPem, facts }), code('TOKEN_USED'));
  const { token: old } = await createToken(e.tokens, { ttlSeconds: 1 });
  const rec = (await findToken(e.tokens, old))!;
  await e.tokens.put({ ...rec, expiresAt: new Date(Date.now() + 50).toISOString() });
  await new Promise((r) => setTimeout(r, 60));
  await assert.rejects(e.join({ token: old, csrPem: (await makeKeyAndCsr({ name: 'n2' })).csrPem, facts }), code('TOKEN_EXPIRED'));
  assert.deepEqual(issued(), ['n1.crt', 'n1.json']);
});

test('enroll: with approval, an unknown node waits; approve issues on its next ask, deny refuses, another key is refused', async () => {
  const { e, issued } = await setup('approve-unknown');
  const { token } = await createToken(e.tokens, { uses: 3 });
  const a = await makeKeyAndCsr({ name: 'new1' });
  const first = await e.join({ token, csrPem: a.csrPem, facts, peer: '10.9.9.9' });
  assert.equal(first.status, 'pending');
  assert.deepEqual((await e.listPending()).map((p) => [p.name, p.peer, p.facts.machineId]), [['new1', '10.9.9.9', 'abc']]);
  assert.equal((await findToken(e.tokens, token))?.usesLeft, 3, 'waiting spends no use');
  await e.approve('new1');
  const b = await makeKeyAndCsr({ name: 'new1' });
  await assert.rejects(e.join({ token, csrPem: b.csrPem, facts }), code('CSR_NOT_ALLOWED'));
  const second = await e.join({ token, csrPem: a.csrPem, facts });
  assert.equal(second.status, 'issued');
  assert.deepEqual(await e.listPending(), []);
  const c = await makeKeyAndCsr({ name: 'new2' });
  await e.join({ token, csrPem: c.csrPem, facts });
  await e.deny('new2');
  await assert.rejects(e.join({ token, csrPem: c.csrPem, facts }), code('ENROLL_DENIED'));
  await assert.rejects(e.approve('nobody'), code('NO_PENDING'));
  assert.deepEqual(issued(), ['new1.crt', 'new1.json']);
});

test('enroll: renewal needs the agent\'s own current, unrevoked certificate', async () => {
  const { e } = await setup();
  const { token } = await createToken(e.tokens, {});
  const r = await e.join({ token, csrPem: (await makeKeyAndCsr({ name: 'n1' })).csrPem, facts });
  if (r.status !== 'issued') throw new Error('not issued');
  const peer = { name: 'n1', roles: ['agent'], serial: r.node.serial };
  const renewed = await e.renew(peer, (await makeKeyAndCsr({ name: 'n1' })).csrPem);
  assert.notEqual(renewed.node.serial, r.node.serial);
  await assert.rejects(e.renew(undefined, (await makeKeyAndCsr({ name: 'n1' })).csrPem), code('NOT_AUTHENTICATED'));
  await assert.rejects(e.renew({ ...peer, roles: ['reader'] }, (await makeKeyAndCsr({ name: 'n1' })).csrPem), code('NOT_AUTHENTICATED'));
  await assert.rejects(e.renew(peer, (await makeKeyAndCsr({ name: 'n2' })).csrPem), code('CSR_NOT_ALLOWED'));
  const revoked = await e.revoke('n1');
  assert.deepEqual(revoked.map((x) => x.serial).sort(), [r.node.serial, renewed.node.serial].sort(), 'the current certificate and the one it replaced');
  await assert.rejects(e.renew({ ...peer, serial: renewed.node.serial }, (await makeKeyAndCsr({ name: 'n1' })).csrPem), code('CERT_REVOKED'));
  await assert.rejects(e.revoke('nobody'), code('NO_CERTIFICATE'));
});

test('enroll: the controller\'s own certificate is renewed past two thirds of its life, not before', async () => {
  const { state } = await setup();
  assert.equal((await renewControllerIfDue(state)).renewed, false);
  const later = Date.now() + 250 * 86_400_000;
  const r = await renewControllerIfDue(state, later);
  assert.equal(r.renewed, true);
  assert.ok(r.notAfter.getTime() > Date.now() + 360 * 86_400_000);
});
