import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { serve, type Listening } from '../../controller/app/serve.js';
import { issueClient } from '../../controller/enroll/enrollment.js';
import { ensureServerCert, fleetStore } from '../../controller/pki/fleet.js';
import { fileOnNodes, kubeletTasks } from '../helpers/api.js';
import { repoRoot, workerFleet, type TestFleet } from '../helpers/fleet.js';

// The CLI in remote mode: the real muster process with --controller and an operator
// certificate, against muster serve over four real agents on loopback; its output against the
// in-process CLI's. The kubelet probe polls a stand-in /healthz (no kubelet on this machine).
let f: TestFleet;
let workers: Awaited<ReturnType<typeof workerFleet>>;
let kubeletUrl = '';
let server: Listening;
let remote: string[] = [];
const names = ['c1', 'c2', 'c3', 'c4'];
const file = '/etc/kubernetes/app.conf';

function muster(args: string[], cwd = f.dir): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repoRoot, 'bin/muster.js'), '-s', f.state, '-i', f.inventoryFile, ...args], { timeout: 120_000, cwd }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const tasks = (content: string) => kubeletTasks(f.dir, kubeletUrl, file, content);
const hosts = () => fileOnNodes(f, names, file);
// What differs between two runs of the same command at different times.
const steady = (text: string) => text.replace(/\d+ ?ms\b/g, 'N ms').replace(/ {2,}/g, '  ').replace(/\b\d+(\.\d+)?s\b/g, 'Ns').replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'T').replace(/\b\d\d:\d\d:\d\d\b/g, 'T');

before(async () => {
  workers = await workerFleet(4, 'c');
  ({ f, kubeletUrl } = workers);
  server = await serve({ state: f.state, inventory: f.inventoryFile, listen: '127.0.0.1:0', enroll: false });
  const op = await issueClient(f.state, 'alice', 'operator');
  remote = ['--controller', server.url, '--cert', op.certFile, '--key', op.keyFile];
});

after(async () => {
  await server?.close();
  await workers?.stop();
});

test('cli remote: apply through the controller prints what the in-process apply prints, and changes the same', async () => {
  assert.equal((await muster(['apply', '-t', await tasks('one')])).code, 0);
  const local = await muster(['apply', '-t', await tasks('two')]);
  assert.equal(local.code, 0, local.stderr);
  const far = await muster([...remote, 'apply', '-t', await tasks('three')]);
  assert.equal(far.code, 0, far.stderr);
  assert.deepEqual(await hosts(), names.map(() => 'three\n'));
  // The same change (one file's content) both ways; node lines come in completion order
  // in-process and in inventory order remotely: compare them sorted.
  const lines = (t: string) => steady(t).replace(/[0-9a-f]{12,64}/g, 'REV').replace(/\b(one|two|three)\b/g, 'X').split('\n').map((l) => l.replace(/\[\d\/4\] /, '')).sort();
  assert.deepEqual(lines(far.stdout), lines(local.stdout));
  assert.match(far.stdout, /\[apply\] 4 nodes in \d+ ms: 4 changed/);
  // -o json: the same report shape.
  const json = await muster([...remote, 'apply', '-t', await tasks('three'), '-o', 'json']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout).summary, { nodes: 4, inventoryNodes: 4, ok: 4, changed: 0, 'would-change': 0, failed: 0, unreachable: 0 });
});

test('cli remote: history and status through the controller print what the in-process CLI prints', async () => {
  const [h1, h2] = await Promise.all([muster(['history', '--limit', '20']), muster([...remote, 'history', '--limit', '20'])]);
  assert.equal(h2.code, 0, h2.stderr);
  assert.equal(h2.stdout, h1.stdout);
  const s1 = await muster(['status', '-o', 'json']);
  const s2 = await muster([...remote, 'status', '-o', 'json']);
  assert.deepEqual([s1.code, s2.code], [0, 0], s2.stderr);
  const pick = (t: string) => (JSON.parse(t) as { node: string; reachable?: boolean; revision?: string; ready?: boolean }[]).map(({ node, revision, ready }) => ({ node, revision, ready }));
  assert.deepEqual(pick(s2.stdout), pick(s1.stdout));
  const limited = await muster([...remote, 'status', '-l', 'c2']);
  assert.match(limited.stdout, /^c2 /m);
  assert.doesNotMatch(limited.stdout, /^c1 /m);
});

test('cli remote: rollout with a canary pauses (exit 3), status names it, resume through the controller finishes it (exit 0)', async () => {
  const started = await muster([...remote, 'rollout', '-t', await tasks('four'), '--batch', '1', '--canary', '1', '--yes', '--soak', 'worker=0', '--gate-timeout', '20s', '--poll', '100ms']);
  assert.equal(started.code, 3, started.stdout + started.stderr);
  assert.match(started.stdout, /\[plan\] c1: would-change/, 'the preview is shown first');
  assert.match(started.stdout, /\[rollout\] wave 0: canary 1 worker\(s\): c1 \(then pause: canary\)\n/);
  assert.match(started.stdout, /\[rollout\] \S+ wave 0 c1: dispatched: apply\n/, 'the journal is printed live');
  assert.match(started.stdout, /paused/);
  assert.equal((await hosts()).filter((h) => h === 'four\n').length, 1);
  const st = await muster([...remote, 'rollout', 'status']);
  assert.equal(st.code, 0, st.stderr);
  assert.equal(steady(st.stdout), steady((await muster(['rollout', 'status'])).stdout), 'the same status either way');
  const resumed = await muster([...remote, 'rollout', 'resume']);
  assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
  assert.match(resumed.stdout, /\[rollout\] \S+ wave \d c4: healthy: gates passed/);
  assert.match(resumed.stdout, /done/);
  assert.deepEqual(await hosts(), names.map(() => 'four\n'));
  const h = await muster([...remote, 'history', '-o', 'json', '--limit', '50']);
  assert.ok((JSON.parse(h.stdout) as { action: string; operator: { user: string } }[]).some((e) => e.action === 'resume' && e.operator.user === 'alice'), 'the history names the certificate');
});

test('cli remote: a reader certificate may read but not apply; no certificate is a clear error', async () => {
  const reader = await issueClient(f.state, 'grafana', 'reader');
  const asReader = ['--controller', server.url, '--cert', reader.certFile, '--key', reader.keyFile];
  assert.equal((await muster([...asReader, 'history'])).code, 0);
  const refused = await muster([...asReader, 'apply', '-t', await tasks('five')]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /ROLE_REFUSED: POST \/v1\/apply needs a controller or operator certificate; grafana has role reader/);
  assert.deepEqual(await hosts(), names.map(() => 'four\n'));
  const none = await muster(['--controller', server.url, 'history']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /NO_CREDENTIALS: --controller needs --cert and --key/);
  // The config file names the controller and the certificate just as well (the reader's: refused, so it went remote).
  await fs.writeFile(path.join(f.dir, 'muster.yaml'), `controller: ${server.url}\ncert: ${reader.certFile}\nkey: ${reader.keyFile}\n`);
  const viaConfig = await muster(['apply', '-t', await tasks('five')]);
  await fs.rm(path.join(f.dir, 'muster.yaml'));
  assert.equal(viaConfig.code, 1);
  assert.match(viaConfig.stderr, /ROLE_REFUSED/);
});

test('cli remote: a follower answering NOT_LEADER is followed to the leader it names, once', async () => {
  // A stand-in follower (the HA store that elects a real one is not part of this test): it
  // answers every call with NOT_LEADER naming muster serve above as the leader.
  const ca = (await fleetStore(f.state).read('ca'))!;
  const cert = await ensureServerCert(f.state, 'follower-test', ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  let asked = 0;
  const follower = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => {
    asked++;
    res.writeHead(409, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'NOT_LEADER', message: 'this controller follows', leader: { id: 'leader', url: server.url, sinceMs: 1 } }));
  });
  await new Promise<void>((r) => follower.listen(0, '127.0.0.1', r));
  try {
    const url = `https://127.0.0.1:${(follower.address() as AddressInfo).port}`;
    const out = await muster(['--controller', url, ...remote.slice(2), 'apply', '-t', await tasks('five')]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(asked, 1, 'the follower was asked once');
    assert.deepEqual(await hosts(), names.map(() => 'five\n'));
  } finally {
    await new Promise((r) => follower.close(r));
  }
});
