import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, test } from 'node:test';
import { startJoinedAgent } from '../../agent/join/index.js';
import { makeKeyAndCsr } from '../../agent/join/csr.js';
import { joinFleet } from '../../agent/join/join.js';
import { enrollClient } from '../../agent/join/client.js';
import { Enrollment, issueReader, listFleetCerts } from '../../controller/enroll/enrollment.js';
import { refuseRevoked } from '../../controller/enroll/revocations.js';
import { rotateCa } from '../../controller/enroll/rotation.js';
import { splitPemBundle } from '../../common/ca-hash.js';
import { startEnrollServer, type EnrollServer } from '../../controller/enroll/server.js';
import { createToken, listTokens } from '../../controller/enroll/tokens.js';
import { fleetCredentials } from '../../controller/app/fleet-credentials.js';
import { AgentClient, checkAgentIdentity, fleetChannelCredentials } from '../../controller/fleet/client.js';
import { readFleetCredentials } from '../../controller/pki/fleet.js';
import { freePort, makeFleet, repoRoot, waitForPort, type TestFleet } from '../helpers/fleet.js';
import { silent } from '../helpers/host.js';

// The real path end to end on loopback: a fresh agent root with only a token and a CA hash.
let f: TestFleet;
let enrollment: Enrollment;
let server: EnrollServer;
const facts = { machineId: 'm-1', hostname: 'n1', macs: ['52:54:00:00:00:01'], diskSerials: ['S1'] };
const controllerAddr = () => `127.0.0.1:${server.port}`;
const tlsPaths = (name: string) => {
  const d = path.join(f.nodeRoot(name), 'etc/muster/pki');
  return { ca: path.join(d, 'ca.crt'), cert: path.join(d, 'agent.crt'), key: path.join(d, 'agent.key') };
};

before(async () => {
  f = await makeFleet(3);
  enrollment = new Enrollment({ stateDir: f.state, nodes: () => f.inventory.nodes });
  server = await startEnrollServer({ enrollment, listen: { host: '127.0.0.1', port: 0 }, reloadMs: 200 });
});
after(async () => {
  await server.stop();
  await f.cleanup();
});

function controllerClient(name: string, port: number, revoked?: { has(s: string): boolean }) {
  const node = { ...f.inventory.nodes.find((n) => n.name === name)!, agentPort: port };
  const creds = readFleetCredentials(f.state).then((c) =>
    grpc.credentials.createSsl(Buffer.from(c.ca.certPem), Buffer.from(c.controller.keyPem), Buffer.from(c.controller.certPem), {
      checkServerIdentity: revoked ? refuseRevoked(revoked, checkAgentIdentity) : checkAgentIdentity,
    }),
  );
  return creds.then((c) => new AgentClient(node, c));
}

test('enroll: a fresh agent with a token and the CA hash joins, serves, and the controller reads its status; renewal and revocation follow', async () => {
  const { token } = await createToken(enrollment.tokens, { node: 'n1' });
  const paths = tlsPaths('n1');
  const port = await freePort();
  const agent = await startJoinedAgent({
    name: 'n1',
    root: f.nodeRoot('n1'),
    listen: { host: '127.0.0.1', port },
    http: false,
    drift: false,
    tlsPaths: paths,
    join: { controller: controllerAddr(), token, caCertHash: server.caCertHash },
    facts,
    log: silent,
  });
  try {
    assert.equal(fs.statSync(paths.key).mode & 0o777, 0o600, 'the key is 0600');
    const cert = new X509Certificate(fs.readFileSync(paths.cert));
    assert.match(cert.subject, /CN=n1/);
    assert.match(cert.subject, /OU=agent/);
    const client = await controllerClient('n1', port);
    const st = await client.status();
    assert.equal(st.status?.node, 'n1');
    client.close();
    // The token was for one use and is spent; the facts are recorded.
    assert.equal((await listTokens(enrollment.tokens))[0].usesLeft, 0);
    assert.deepEqual((await enrollment.node('n1'))?.facts, facts);
    assert.ok((await listFleetCerts(f.state)).some((r) => r.file.includes('enroll') && r.name === 'n1' && r.role === 'agent'));

    // Renewal: a new key and certificate, and the agent keeps serving with it.
    const before = cert.serialNumber;
    await agent.lifecycle.renewNow();
    const renewed = new X509Certificate(fs.readFileSync(paths.cert));
    assert.notEqual(renewed.serialNumber, before);
    const c2 = await controllerClient('n1', port);
    assert.equal((await c2.status()).status?.node, 'n1');
    c2.close();

    // Revocation: the controller refuses the revoked agent at the handshake, and the enrollment
    // service refuses its next call.
    await enrollment.revoke('n1');
    const c3 = await controllerClient('n1', port, enrollment.revocations);
    await assert.rejects(c3.status(), /refused by the controller: its agent certificate \(serial [0-9A-F]+\) is on the fleet's revocation list/);
    c3.close();
    await assert.rejects(agent.lifecycle.refreshTrust(), /CERT_REVOKED/);
    await assert.rejects(agent.lifecycle.renewNow(), /CERT_REVOKED/);
  } finally {
    await agent.stop();
  }
});

test('enroll: a mismatching CA hash refuses before anything is sent, naming both hashes', async () => {
  const { token } = await createToken(enrollment.tokens, { node: 'n2' });
  const wrong = 'sha256:' + '0'.repeat(64);
  await assert.rejects(
    joinFleet({ controller: controllerAddr(), token, caCertHash: wrong, name: 'n2', tls: tlsPaths('n2'), facts }),
    (err: Error) => err.message.includes(wrong) && err.message.includes(server.caCertHash),
  );
  assert.equal(fs.existsSync(tlsPaths('n2').cert), false);
  assert.equal((await listTokens(enrollment.tokens)).find((t) => t.node === 'n2')?.usesLeft, 1, 'the token was not touched');
});

test('enroll: refused joins write nothing on the agent and leave the token unspent', async () => {
  const { token } = await createToken(enrollment.tokens, { uses: 1 });
  const id = token.split('.')[0];
  const tryJoin = (name: string, t = token) => joinFleet({ controller: controllerAddr(), token: t, caCertHash: server.caCertHash, name, tls: tlsPaths(name), facts });
  await assert.rejects(tryJoin('stranger'), /ENROLL_UNKNOWN_NODE/);
  assert.equal(fs.existsSync(tlsPaths('stranger').cert), false);
  await assert.rejects(tryJoin('n3', token.slice(0, 7) + 'x'.repeat(16)), /TOKEN_INVALID/);
  assert.equal((await listTokens(enrollment.tokens)).find((t) => t.id === id)?.usesLeft, 1);
  // A good join spends it; a second one with the same token is refused.
  await tryJoin('n3');
  assert.ok(fs.existsSync(tlsPaths('n3').cert));
  await assert.rejects(tryJoin('n2'), /TOKEN_USED/);
  assert.equal(fs.existsSync(tlsPaths('n2').cert), false);
});

test('enroll: a CSR for the controller role is refused over the wire', async () => {
  const { token } = await createToken(enrollment.tokens, {});
  const { csrPem } = await makeKeyAndCsr({ name: 'n2', organizationalUnits: ['controller'] });
  const c = enrollClient(controllerAddr(), { ca: fs.readFileSync(path.join(f.state, 'pki/fleet/ca.crt')) });
  await assert.rejects(c.join({ token, csrPem, facts }), /CSR_NOT_ALLOWED.*controller/);
  c.close();
  assert.equal((await listTokens(enrollment.tokens)).find((t) => t.id === token.split('.')[0])?.usesLeft, 1);
});

test('enroll: an agent whose certificate is past two thirds of its life renews it on its timer and keeps serving', async () => {
  const { token } = await createToken(enrollment.tokens, { node: 'n2' });
  const paths = tlsPaths('n2');
  // Issued with five minutes of clock-skew allowance before now and one minute after: already due.
  enrollment.o.validityMs = 60_000;
  try {
    await joinFleet({ controller: controllerAddr(), token, caCertHash: server.caCertHash, name: 'n2', tls: paths, facts });
  } finally {
    enrollment.o.validityMs = undefined;
  }
  const first = new X509Certificate(fs.readFileSync(paths.cert));
  const port = await freePort();
  const agent = await startJoinedAgent({ name: 'n2', root: f.nodeRoot('n2'), listen: { host: '127.0.0.1', port }, http: false, drift: false, tlsPaths: paths, join: { controller: controllerAddr() }, log: silent });
  try {
    // What the running server presents at a handshake, as the controller sees it.
    const c = await readFleetCredentials(f.state);
    const presented = () => new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, ca: c.ca.certPem, cert: c.controller.certPem, key: c.controller.keyPem, servername: 'n2', ALPNProtocols: ['h2'] }, () => {
        resolve(s.getPeerCertificate().serialNumber);
        s.destroy();
      });
      s.on('error', reject);
    });
    const deadline = Date.now() + 10_000;
    while ((await presented()) === first.serialNumber && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const renewed = new X509Certificate(fs.readFileSync(paths.cert));
    assert.notEqual(renewed.serialNumber, first.serialNumber, 'renewed within 10 s');
    assert.equal(await presented(), renewed.serialNumber, 'the server presents the certificate on disk');
    assert.ok(Date.parse(renewed.validTo) > Date.parse(first.validTo) + 86_400_000, 'the new certificate has the full validity');
    const client = await controllerClient('n2', port);
    assert.equal((await client.status()).status?.node, 'n2');
    client.close();

    // A reader certificate reads status until it is revoked; the agent then refuses it per call.
    const reader = await issueReader(f.state, 'monitoring');
    const ca = fs.readFileSync(paths.ca);
    const asReader = () => new AgentClient({ ...f.inventory.nodes[1], agentPort: port }, grpc.credentials.createSsl(ca, Buffer.from(reader.pair.keyPem), Buffer.from(reader.pair.certPem), { checkServerIdentity: checkAgentIdentity }));
    const r1 = asReader();
    assert.equal((await r1.status()).status?.node, 'n2');
    r1.close();
    await enrollment.revoke('monitoring');
    await agent.lifecycle.refreshTrust();
    const r2 = asReader();
    await assert.rejects(r2.status(), /refused the call .*is revoked/);
    r2.close();
  } finally {
    await agent.stop();
  }
});

test('enroll: "musterd join --controller --token --ca-cert-hash" as a real process joins and serves', async () => {
  const { token } = await createToken(enrollment.tokens, { node: 'n3' });
  const root = path.join(f.dir, 'spawned');
  const paths = { ca: path.join(root, 'pki/ca.crt'), cert: path.join(root, 'pki/agent.crt'), key: path.join(root, 'pki/agent.key') };
  fs.mkdirSync(root, { recursive: true });
  const port = await freePort();
  const p = spawn(process.execPath, [
    path.join(repoRoot, 'bin/musterd.js'), 'join',
    '--controller', controllerAddr(), '--token', token, '--ca-cert-hash', server.caCertHash,
    '--name', 'n3', '--listen', `127.0.0.1:${port}`, '--http', 'off', '--root', root,
    '--tls-ca', paths.ca, '--tls-cert', paths.cert, '--tls-key', paths.key, '--log-level', 'warn',
  ], { stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    await waitForPort('127.0.0.1', port, 30_000);
    assert.match(new X509Certificate(fs.readFileSync(paths.cert)).subject, /CN=n3/);
    const client = await controllerClient('n3', port);
    assert.equal((await client.status()).status?.node, 'n3');
    client.close();
    assert.ok((await enrollment.node('n3'))?.facts.macs.length, 'the real machine facts were recorded');
  } finally {
    p.kill('SIGTERM');
    await new Promise((r) => p.once('exit', r));
  }
});

test('enroll: a CA rotation keeps the fleet talking through each step of dual trust', async () => {
  const { token } = await createToken(enrollment.tokens, { node: 'n2' });
  const paths = tlsPaths('n2');
  fs.rmSync(paths.cert);
  const port = await freePort();
  const agent = await startJoinedAgent({ name: 'n2', root: f.nodeRoot('n2'), listen: { host: '127.0.0.1', port }, http: false, drift: false, tlsPaths: paths, join: { controller: controllerAddr(), token, caCertHash: server.caCertHash }, facts, log: silent });
  // The service re-reads the CA within a second or so; the agent asks (GetTrust) until it sees the step.
  const until = async (done: () => boolean) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      await agent.lifecycle.refreshTrust().catch(() => undefined);
      if (done() || Date.now() > deadline) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  // The credentials every muster command dials agents with (the trust bundle, the revocation list).
  const status = async () => {
    const client = new AgentClient({ ...f.inventory.nodes[1], agentPort: port }, fleetChannelCredentials(await fleetCredentials(f.state)));
    try {
      return (await client.status()).status?.node;
    } finally {
      client.close();
    }
  };
  const cas = () => splitPemBundle(fs.readFileSync(paths.ca, 'utf8')).map((p) => new X509Certificate(p));
  try {
    const oldCa = cas()[0];
    await rotateCa(f.state, 'start');
    await until(() => cas().length === 2);
    assert.equal(cas().length, 2, 'the agent trusts old and new');
    assert.equal(await status(), 'n2');

    await rotateCa(f.state, 'switch');
    assert.equal(await status(), 'n2', 'before it renews, the agent\'s certificate from the old CA is trusted through the bundle');
    await until(() => !new X509Certificate(fs.readFileSync(paths.cert)).checkIssued(oldCa));
    const cert = new X509Certificate(fs.readFileSync(paths.cert));
    assert.ok(cert.checkIssued(cas()[0]) && !cert.checkIssued(oldCa), 'the agent renewed from the new CA');
    assert.equal(await status(), 'n2', 'the controller with its new certificate reaches the agent');

    await rotateCa(f.state, 'finish');
    await until(() => cas().length === 1);
    assert.equal(cas().length, 1);
    assert.ok(!cas()[0].publicKey.equals(oldCa.publicKey), 'the old CA is dropped');
    assert.equal(await status(), 'n2');
  } finally {
    await agent.stop();
  }
});

test('enroll: with the approval policy an unknown machine waits, polling, until an operator approves it', async () => {
  const queue = new Enrollment({ stateDir: f.state, nodes: () => f.inventory.nodes, policy: 'approve-unknown' });
  const s2 = await startEnrollServer({ enrollment: queue, listen: { host: '127.0.0.1', port: 0 } });
  try {
    const { token } = await createToken(queue.tokens, {});
    const paths = tlsPaths('newbie');
    const joining = joinFleet({ controller: `127.0.0.1:${s2.port}`, token, caCertHash: s2.caCertHash, name: 'newbie', tls: paths, facts, pollMs: 50 });
    while (!(await queue.listPending()).some((p) => p.name === 'newbie')) await new Promise((r) => setTimeout(r, 20));
    assert.equal(fs.existsSync(paths.cert), false, 'nothing written while it waits');
    await queue.approve('newbie');
    await joining;
    const cert = new X509Certificate(fs.readFileSync(paths.cert));
    assert.match(cert.subject, /CN=newbie/);
    assert.equal(cert.subjectAltName, 'DNS:newbie');
  } finally {
    await s2.stop();
  }
});

test('enroll: an oversized request is refused, and an address that keeps failing is refused for a minute (last: it blocks loopback)', async () => {
  const ca = fs.readFileSync(path.join(f.state, 'pki/fleet/ca.crt'));
  const c = enrollClient(controllerAddr(), { ca });
  try {
    await assert.rejects(c.join({ token: 'x', csrPem: 'x'.repeat(100_000), facts }), /RESOURCE_EXHAUSTED|larger than max/i);
    const { token } = await createToken(enrollment.tokens, { node: 'n3' });
    const { csrPem } = await makeKeyAndCsr({ name: 'n3' });
    const answers: string[] = [];
    for (let i = 0; i < 25; i++) answers.push(await c.join({ token: 'abcdef.0123456789abcdef', csrPem, facts }).then(() => 'ok', (e: Error) => e.message));
    assert.ok(answers.slice(0, 5).every((a) => a.includes('TOKEN_INVALID')));
    assert.ok(answers.slice(-3).every((a) => a.includes('RATE_LIMITED')), answers.slice(-3).join('\n'));
    // Even the right token is refused from there for now.
    await assert.rejects(c.join({ token, csrPem, facts }), /RATE_LIMITED/);
  } finally {
    c.close();
  }
});
