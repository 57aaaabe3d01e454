import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { snapshot } from '../helpers/host.js';
import { makeFleet, repoRoot, runMuster, spawnAgents, type TestFleet } from '../helpers/fleet.js';

let f: TestFleet;
let agents: Awaited<ReturnType<typeof spawnAgents>>;
let tasks: string;

const muster = (...args: string[]) => runMuster(f, ...args);

before(async () => {
  f = await makeFleet(3, 'm');
  agents = await spawnAgents(f);
  tasks = path.join(f.dir, 'tasks.yaml');
  await fs.copyFile(path.join(repoRoot, 'examples/demo/etcd.yaml'), path.join(f.dir, 'etcd.yaml'));
  await fs.writeFile(tasks, `vars:
  ETCD_IMAGE: registry.k8s.io/etcd:3.5.15-0
  ETCD_INITIAL_CLUSTER: m1=https://127.0.0.1:2380
tasks:
  - id: etcd
    staticPod: { name: etcd, manifestFile: etcd.yaml }
  - id: apiserver-cert
    certificate:
      certPath: /srv/kubernetes/server.cert
      keyPath: /srv/kubernetes/server.key
      caPath: /srv/kubernetes/ca.crt
      issue: { commonName: kube-apiserver, dnsNames: ["\${NODE_NAME}"], ipAddresses: ["\${NODE_IP}"] }
  - id: tokens
    on: { nodes: [m1] }
    file: { path: /srv/kubernetes/known_tokens.csv, content: "secret-token-value,admin,1\\n", secret: true }
`);
});

after(async () => {
  await agents?.stop();
  await f?.cleanup();
});

test('cli: plan (exit 2), apply (exit 0), plan again (exit 0), status', async () => {
  const plan = await muster('plan', '-t', tasks);
  assert.equal(plan.code, 2, plan.stderr);
  assert.match(plan.stdout, /\[plan\] m1: would-change \(3 would change, 0 ok\)/);
  assert.match(plan.stdout, /\+ {8}- --name=m2/, 'the diff shows the per-node manifest');
  assert.ok(!plan.stdout.includes('secret-token-value'), 'secrets stay out of the plan');
  assert.ok(!plan.stdout.includes('PRIVATE KEY'));

  const apply = await muster('apply', '-t', tasks);
  assert.equal(apply.code, 0, apply.stdout + apply.stderr);
  assert.match(apply.stdout, /\[apply\] 3 nodes in \d+ ms: 3 changed, 0 ok, 0 failed, 0 unreachable/);
  assert.match(await fs.readFile(path.join(f.nodeRoot('m2'), 'etc/kubernetes/manifests/etcd.yaml'), 'utf8'), /--name=m2/);
  assert.equal(await fs.readFile(path.join(f.nodeRoot('m1'), 'srv/kubernetes/known_tokens.csv'), 'utf8'), 'secret-token-value,admin,1\n');
  await assert.rejects(fs.stat(path.join(f.nodeRoot('m2'), 'srv/kubernetes/known_tokens.csv')), 'the selector kept tokens to m1');

  const again = await muster('plan', '-t', tasks);
  assert.equal(again.code, 0, again.stdout);
  assert.match(again.stdout, /\[plan\] 3 nodes: 0 would change, 3 ok, 0 failed, 0 unreachable/);

  const status = await muster('status');
  assert.equal(status.code, 0);
  for (const n of ['m1', 'm2', 'm3']) assert.match(status.stdout, new RegExp(`^${n}\\s+etcd,control-plane\\s+yes\\s+[0-9a-f]{16}\\s+converged\\s+\\d+s\\s+yes\\s+2\\/2 healthy\\s+0\\s+36[45]d server\\.cert`, 'm'));
});

test('cli: a bad inventory names file, line and field, and nothing is sent', async () => {
  const bad = path.join(f.dir, 'bad-inventory.yaml');
  await fs.writeFile(bad, `nodes:\n  - name: m1\n    address: 127.0.0.1\n    agentPort: 99999\n    roles: [etcd]\n`);
  const before = await snapshot(path.join(f.dir, 'nodes'));
  const out = await muster('-i', bad, 'apply', '-t', tasks);
  assert.equal(out.code, 1);
  assert.match(out.stderr, /nothing was sent to any agent/);
  assert.match(out.stderr, new RegExp(`${bad}:4:16: nodes\\[0\\]\\.agentPort: Too big`));
  assert.deepEqual(await snapshot(path.join(f.dir, 'nodes')), before);
});

test('cli: an unknown placeholder is named with its file, and nothing is sent', async () => {
  const bad = path.join(f.dir, 'bad-tasks.yaml');
  await fs.writeFile(bad, `tasks:\n  - id: a\n    file: { path: /etc/kubernetes/a, content: "\${NODE_NAME} \${NOPE}" }\n`);
  const before = await snapshot(path.join(f.dir, 'nodes'));
  const out = await muster('apply', '-t', bad);
  assert.equal(out.code, 1);
  assert.match(out.stderr, new RegExp(`${bad}:2:5: tasks\\[0\\] \\(a\\): unknown placeholder \\$\\{NOPE\\}`));
  assert.deepEqual(await snapshot(path.join(f.dir, 'nodes')), before);
});

test('cli: a task file field error names the line', async () => {
  const bad = path.join(f.dir, 'bad-mode.yaml');
  await fs.writeFile(bad, `tasks:\n  - id: a\n    file:\n      path: /etc/kubernetes/a\n      content: x\n      mode: 0644\n`);
  const out = await muster('plan', '-t', bad);
  assert.equal(out.code, 1);
  assert.match(out.stderr, /bad-mode\.yaml:6:13: tasks\[0\]\.file\.mode: write the mode as a quoted octal string/);
});

test('cli: an unreachable node fails the apply and is named', async () => {
  const inv = path.join(f.dir, 'with-dead.yaml');
  const text = await fs.readFile(f.inventoryFile, 'utf8');
  await fs.writeFile(inv, text.replace(/agentPort: \d+(?![\s\S]*agentPort)/, 'agentPort: 1'));
  const out = await muster('-i', inv, 'apply', '-t', tasks, '--timeout', '5');
  assert.equal(out.code, 1);
  assert.match(out.stdout, /^m3\s+unreachable\s.*m3 \(127\.0\.0\.1:1\) refused the connection: check that musterd runs on m3 and listens on port 1/m);
  assert.doesNotMatch(out.stdout + out.stderr, /Resolution note|No connection established/);
  assert.match(out.stdout, /\[apply\] 3 nodes in \d+ ms: 0 changed, 2 ok, 0 failed, 1 unreachable/, 'every node counted once');
  assert.match(out.stdout, /m1\s+ok/);
});
