import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { AgentClient, checkAgentIdentity } from '../../controller/fleet/client.js';
import { ApplyMode, Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import { freePort, makeFleet, repoRoot, runMuster, spawnAgents, waitForPort, type TestFleet } from '../helpers/fleet.js';

// The operator's path through the real processes: `muster serve` with its enrollment port,
// `muster token create`, a real `musterd join`, then the other commands on what it left.
// n1 joins with a token; n2 and n3 run on the certificates "muster init" made (the manual path).
let f: TestFleet;
let others: Awaited<ReturnType<typeof spawnAgents>>;
let serve: ChildProcess;
let serveOut = '';
let enrollAddr: string;
const procs: ChildProcess[] = [];
const muster = (...args: string[]) => runMuster(f, ...args);

const tlsOf = (root: string) => ({ ca: path.join(root, 'pki/ca.crt'), cert: path.join(root, 'pki/agent.crt'), key: path.join(root, 'pki/agent.key') });

function join(name: string, root: string, port: number, flags: string[]): { proc: ChildProcess; output: () => string; exit: Promise<number | null> } {
  fs.mkdirSync(root, { recursive: true });
  const t = tlsOf(root);
  const proc = spawn(process.execPath, [
    path.join(repoRoot, 'bin/musterd.js'), 'join', '--controller', enrollAddr, ...flags,
    '--name', name, '--listen', `127.0.0.1:${port}`, '--http', 'off', '--root', root,
    '--tls-ca', t.ca, '--tls-cert', t.cert, '--tls-key', t.key, '--log-level', 'warn',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  // The agent logs (JSON lines) on stdout and reports a failed join on stderr: both are what an operator reads.
  let err = '';
  for (const s of [proc.stdout!, proc.stderr!]) s.on('data', (d: Buffer) => (err += d.toString()));
  procs.push(proc);
  return { proc, output: () => err, exit: new Promise((r) => proc.once('exit', (code) => r(code))) };
}

before(async () => {
  f = await makeFleet(3);
  others = await spawnAgents({ ...f, inventory: { ...f.inventory, nodes: f.inventory.nodes.filter((n) => n.name !== 'n1') } });
  // Port 0 for both: serve prints the enrollment port it got (no race with other tests for a port).
  serve = spawn(process.execPath, [path.join(repoRoot, 'bin/muster.js'), '-s', f.state, '-i', f.inventoryFile, 'serve', '--listen', '127.0.0.1:0', '--enroll-listen', '127.0.0.1:0', '--enroll-policy', 'approve-unknown'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let serveErr = '';
  serve.stdout!.on('data', (d: Buffer) => (serveOut += d.toString()));
  serve.stderr!.on('data', (d: Buffer) => (serveErr += d.toString()));
  for (const deadline = Date.now() + 60_000; !/enrollment on 127\.0\.0\.1:\d+/.test(serveOut); await new Promise((r) => setTimeout(r, 50))) {
    if (serve.exitCode !== null || Date.now() > deadline) throw new Error(`muster serve did not start: ${serveErr || serveOut}`);
  }
  enrollAddr = /enrollment on (127\.0\.0\.1:\d+)/.exec(serveOut)![1];
});

after(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => (p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => p.once('exit', r)))));
  if (serve.exitCode === null) serve.kill('SIGTERM');
  await others.stop();
  await f.cleanup();
});

test('enroll cli: token create, a real musterd join against muster serve, status; the token is spent and a reuse is refused', async () => {
  const created = await muster('token', 'create', '--node', 'n1', '--controller', enrollAddr);
  assert.equal(created.code, 0, created.stderr);
  const token = /^token:\s+(\S+)$/m.exec(created.stdout)![1];
  const hash = /^ca-cert-hash:\s+(sha256:[0-9a-f]{64})$/m.exec(created.stdout)![1];
  assert.match(created.stdout, new RegExp(`^on the node:\\s+musterd join --controller ${enrollAddr} --token ${token} --ca-cert-hash ${hash} --name n1$`, 'm'));
  assert.match(serveOut, new RegExp(`CA hash ${hash}`), 'serve prints the same CA hash');

  const n1 = f.inventory.nodes[0];
  const agent = join('n1', f.nodeRoot('n1'), n1.agentPort, ['--token', token, '--ca-cert-hash', hash]);
  await waitForPort('127.0.0.1', n1.agentPort, 30_000);
  assert.match(new X509Certificate(fs.readFileSync(tlsOf(f.nodeRoot('n1')).cert)).subject, /CN=n1/);

  const st = await muster('status', '-o', 'json');
  assert.equal(st.code, 0, st.stdout + st.stderr);
  const views = JSON.parse(st.stdout) as { node: string; reachable: boolean; error?: string }[];
  assert.deepEqual(views.map((v) => [v.node, v.reachable]), [['n1', true], ['n2', true], ['n3', true]]);

  const list = await muster('token', 'list', '-o', 'json');
  const listed = JSON.parse(list.stdout) as { id: string; usesLeft: number; secretHash?: string }[];
  assert.deepEqual(listed.map((t) => [t.id, t.usesLeft]), [[token.split('.')[0], 0]], 'the token is listed as used');
  assert.ok(!list.stdout.includes(token.split('.')[1]) && !listed[0].secretHash, 'never the secret nor its hash');
  assert.match((await muster('token', 'list')).stdout, /^\w{6}\s+node=n1\s+0 \(used\)/m);

  // The same token again, from a fresh machine root: refused, nothing written there.
  const again = join('n1', path.join(f.dir, 'again'), await freePort(), ['--token', token, '--ca-cert-hash', hash]);
  assert.notEqual(await again.exit, 0);
  assert.match(again.output(), /TOKEN_USED: token \w{6} has been used already/);
  assert.equal(fs.existsSync(tlsOf(path.join(f.dir, 'again')).cert), false);
  assert.equal(agent.proc.exitCode, null, 'the joined agent keeps serving');
});

test('enroll cli: token delete removes it; an unknown id is NO_TOKEN', async () => {
  const created = await muster('token', 'create', '--labels', 'rack=a', '--uses', '2', '--ttl', '10m');
  const id = /^token:\s+(\w{6})\./m.exec(created.stdout)![1];
  assert.match((await muster('token', 'list')).stdout, new RegExp(`^${id}\\s+rack=a\\s+2\\s`, 'm'));
  assert.equal((await muster('token', 'delete', id)).code, 0);
  assert.doesNotMatch((await muster('token', 'list')).stdout, new RegExp(id));
  const gone = await muster('token', 'delete', id);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, new RegExp(`NO_TOKEN: no token ${id}`));
  const bad = await muster('token', 'create', '--ttl', '0');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--ttl.*must be a duration above 0/);
});

test('enroll cli: with approve-unknown a machine outside the inventory waits in nodes pending until approved; a denied one is refused', async () => {
  const created = await muster('token', 'create', '--uses', '2', '--controller', enrollAddr);
  const token = /^token:\s+(\S+)$/m.exec(created.stdout)![1];
  const hash = /^ca-cert-hash:\s+(\S+)$/m.exec(created.stdout)![1];
  const port = await freePort();
  const root = path.join(f.dir, 'newbie');
  const newbie = join('newbie', root, port, ['--token', token, '--ca-cert-hash', hash]);
  let pending: { name: string }[] = [];
  for (const deadline = Date.now() + 20_000; !pending.some((p) => p.name === 'newbie') && Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    pending = JSON.parse((await muster('nodes', 'pending', '-o', 'json')).stdout);
  }
  assert.deepEqual(pending.map((p) => p.name), ['newbie']);
  assert.match((await muster('nodes', 'pending')).stdout, /^newbie\s+127\.0\.0\.1/m);
  assert.equal(fs.existsSync(tlsOf(root).cert), false, 'nothing issued while it waits');
  const ok = await muster('nodes', 'approve', 'newbie');
  assert.equal(ok.code, 0, ok.stderr);
  await waitForPort('127.0.0.1', port, 30_000);
  assert.match(new X509Certificate(fs.readFileSync(tlsOf(root).cert)).subject, /CN=newbie/);
  assert.equal(newbie.proc.exitCode, null);
  assert.match((await muster('nodes', 'approve', 'newbie')).stderr, /NO_PENDING: no join request of newbie is waiting/);

  const intruder = join('intruder', path.join(f.dir, 'intruder'), await freePort(), ['--token', token, '--ca-cert-hash', hash]);
  for (const deadline = Date.now() + 20_000; !(await muster('nodes', 'pending')).stdout.includes('intruder') && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 200));
  assert.equal((await muster('nodes', 'deny', 'intruder')).code, 0);
  assert.notEqual(await intruder.exit, 0);
  assert.match(intruder.output(), /ENROLL_DENIED/);
  assert.equal(fs.existsSync(tlsOf(path.join(f.dir, 'intruder')).cert), false);
});

test('enroll cli: certs issue --role reader writes a pair that reads status and is refused Apply; check-expiration lists fleet rows', async () => {
  const out = path.join(f.dir, 'reader');
  const issued = await muster('certs', 'issue', '--role', 'reader', 'monitoring', '-o', out);
  assert.equal(issued.code, 0, issued.stderr);
  assert.match(issued.stdout, new RegExp(`^certificate: ${out}/monitoring.crt$`, 'm'));
  assert.equal(fs.statSync(path.join(out, 'monitoring.key')).mode & 0o777, 0o600);
  assert.match((await muster('certs', 'issue', 'monitoring')).stderr, /--role/, 'the role is required');

  const n2 = f.inventory.nodes[1];
  const creds = grpc.credentials.createSsl(fs.readFileSync(path.join(f.state, 'pki/fleet/ca.crt')), fs.readFileSync(path.join(out, 'monitoring.key')), fs.readFileSync(path.join(out, 'monitoring.crt')), { checkServerIdentity: checkAgentIdentity });
  const client = new AgentClient(n2, creds);
  try {
    assert.equal((await client.status()).status?.node, 'n2');
    const applied = await client.apply(Plan.fromPartial({ node: 'n2', revision: 'r1', tasks: [] }), ApplyMode.APPLY_MODE_APPLY, { timeoutMs: 10_000 });
    assert.match(applied.error ?? '', /refused the call \(.*controller/);
  } finally {
    client.close();
  }

  const certs = await muster('certs', 'check-expiration', '-o', 'json');
  assert.equal(certs.code, 0, certs.stderr);
  const rows = JSON.parse(certs.stdout) as { name: string; kind: string; role?: string; daysLeft: number }[];
  const byName = new Map(rows.map((r) => [r.name, r]));
  assert.equal(byName.get('fleet/enrolled/n1')?.role, 'agent', 'the certificate signed at the join');
  assert.ok((byName.get('fleet/enrolled/n1')?.daysLeft ?? 0) >= 89);
  assert.equal(byName.get('fleet/readers/monitoring')?.role, 'reader');
  assert.equal(byName.get('fleet/ca')?.role, 'ca');
  assert.ok(rows.every((r) => r.kind === 'fleet'), 'no cluster certificates before the first apply');
  assert.match((await muster('certs', 'check-expiration')).stdout, /^fleet\/enrolled\/n1\s+fleet\s+\d{4}-\d\d-\d\d\s+(89|90)\s+fleet\s+CN=n1$/m);
});

// Last: it revokes n1.
test('enroll cli: nodes revoke makes muster status report that node refused for revocation; the others still answer; serve stops on SIGTERM', async () => {
  const revoked = await muster('nodes', 'revoke', 'n1');
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(revoked.stdout, /revoked 2 certificate\(s\) of n1/, 'the init certificate and the enrolled one');
  const st = await muster('status', '-o', 'json');
  assert.equal(st.code, 1);
  const views = JSON.parse(st.stdout) as { node: string; reachable: boolean; error?: string }[];
  assert.deepEqual(views.map((v) => [v.node, v.reachable]), [['n1', false], ['n2', true], ['n3', true]]);
  assert.match(views[0].error ?? '', /^n1 \(127\.0\.0\.1:\d+\) was refused by the controller: its agent certificate \(serial [0-9A-F]+\) is on the fleet's revocation list/);
  // A rollout's check dials with the revocation list too: n1 shows refused, and nothing is sent.
  const tasksFile = path.join(f.dir, 'revoked-tasks.yaml');
  fs.writeFileSync(tasksFile, 'tasks:\n  - id: a\n    file: { path: /etc/kubernetes/revoked.conf, content: "a\\n" }\n');
  const dry = await muster('rollout', '--dry-run', '-t', tasksFile, '-l', 'n1');
  assert.match(dry.stdout + dry.stderr, /n1 \(127\.0\.0\.1:\d+\) was refused by the controller: its agent certificate \(serial [0-9A-F]+\) is on the fleet's revocation list/);
  assert.match((await muster('nodes', 'revoke', 'n1')).stdout, /on the revocation list already/);
  assert.match((await muster('nodes', 'revoke', 'nobody')).stderr, /NO_CERTIFICATE/);

  serve.kill('SIGTERM');
  assert.equal(await new Promise((r) => serve.once('exit', r)), 0);
  await assert.rejects(waitForPort('127.0.0.1', Number(enrollAddr.split(':')[1]), 300), /did not open/, 'the enrollment port is closed');
});

// After the revocation test. n2 and n3 run on certificates "muster init" made and do not fetch
// the bundle (no join settings): they keep answering through start, when the old CA still signs.
test('enroll cli: ca rotate refuses a step out of order; start keeps the fleet answering; switch and finish make the new CA the one listed', async () => {
  const early = await muster('ca', 'rotate', 'switch');
  assert.equal(early.code, 1);
  assert.match(early.stderr, /no CA rotation was started: run the start step first/);
  const oldCa = fs.readFileSync(path.join(f.state, 'pki/fleet/ca.crt'), 'utf8');

  assert.match((await muster('ca', 'rotate', 'start')).stdout, /^\[ca\] start: the fleet trusts .* and .*\(rotated \d{4}-\d\d-\d\d\)$/m);
  const st = JSON.parse((await muster('status', '-o', 'json', '-l', 'n2,n3')).stdout) as { reachable: boolean }[];
  assert.deepEqual(st.map((v) => v.reachable), [true, true], 'the controller trusts the bundle');
  assert.match((await muster('ca', 'rotate', 'start')).stderr, /already under way/);

  assert.match((await muster('ca', 'rotate', 'switch')).stdout, /^\[ca\] the new CA signs; .*then run "muster ca rotate finish"$/m);
  assert.equal((await muster('ca', 'rotate', 'finish')).code, 0);
  const newCa = fs.readFileSync(path.join(f.state, 'pki/fleet/ca.crt'), 'utf8');
  assert.notEqual(newCa, oldCa);
  const rows = JSON.parse((await muster('certs', 'check-expiration', '-o', 'json')).stdout) as { name: string; subject: string }[];
  assert.match(rows.find((r) => r.name === 'fleet/ca')!.subject, /\(rotated \d{4}-\d\d-\d\d\)/);
  assert.ok(!rows.some((r) => r.name === 'fleet/ca-previous' || r.name === 'fleet/ca-next'), 'the old CA is gone');
});
