import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { snapshot } from '../helpers/host.js';
import { makeFleet, repoRoot, spawnAgents, type TestFleet } from '../helpers/fleet.js';

// The conventions an operator expects of the CLI, against three real agents on loopback.
const exec = promisify(execFile);
const bin = path.join(repoRoot, 'bin/muster.js');
let f: TestFleet;
let agents: Awaited<ReturnType<typeof spawnAgents>>;
let tasks: string;
const ESC = String.fromCharCode(27);

type Result = { code: number; stdout: string; stderr: string };
async function run(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, ...args], { cwd: options.cwd, env: { ...process.env, NO_COLOR: '', ...options.env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as Result;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
const muster = (...args: string[]) => run(['-s', f.state, '-i', f.inventoryFile, ...args]);

// The CLI on a pseudo-terminal (script(1)), as an operator's shell runs it.
async function onTty(args: string[], env: Record<string, string> = {}): Promise<string> {
  const line = [process.execPath, bin, '-s', f.state, '-i', f.inventoryFile, ...args].map((a) => `'${a}'`).join(' ');
  const r = await exec('script', ['-qec', line, '/dev/null'], { env: { ...process.env, TERM: 'xterm', NO_COLOR: '', ...env } }).catch((e) => e as Result);
  return r.stdout;
}

before(async () => {
  f = await makeFleet(3, 'm');
  const text = await fs.readFile(f.inventoryFile, 'utf8');
  // Labels and a worker, for --limit.
  await fs.writeFile(f.inventoryFile, text
    .replace(/(name: m1,.*roles: \[etcd, control-plane\])/, '$1, labels: { rack: a }')
    .replace(/(name: m2,.*roles: \[etcd, control-plane\])/, '$1, labels: { rack: b }')
    .replace(/name: m3,(.*)roles: \[etcd, control-plane\]/, 'name: m3,$1roles: [worker], labels: { rack: a }'));
  agents = await spawnAgents(f);
  tasks = path.join(f.dir, 'tasks.yaml');
  await fs.writeFile(tasks, `tasks:
  - id: motd
    file: { path: /etc/kubernetes/motd, content: "node \${NODE_NAME}\\n" }
  - id: cert
    on: { roles: [worker] }
    certificate:
      certPath: /srv/kubernetes/w.crt
      keyPath: /srv/kubernetes/w.key
      issue: { commonName: "\${NODE_NAME}", usages: [client] }
`);
});

after(async () => {
  await agents?.stop();
  await f?.cleanup();
});

test('conventions: --version prints the package version', async () => {
  const pkg = JSON.parse(await fs.readFile(path.join(repoRoot, 'package.json'), 'utf8'));
  const r = await run(['--version']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), pkg.version);
});

test('conventions: --limit sends to the nodes it names; a term matching nothing is an error and nothing is sent', async () => {
  const byName = await muster('plan', '-t', tasks, '--limit', 'm2', '-o', 'json');
  assert.equal(byName.code, 2, byName.stderr);
  const plan = JSON.parse(byName.stdout);
  assert.deepEqual(plan.nodes.map((n: { node: string }) => n.node), ['m2']);
  assert.equal(plan.summary.nodes, 1);
  assert.equal(plan.summary.inventoryNodes, 3);

  const labelled = await muster('plan', '-t', tasks, '--limit', 'rack=a&!role=worker,m2', '--no-diff');
  assert.match(labelled.stdout, /\[plan\] 2 of 3 nodes \(--limit rack=a&!role=worker,m2\): 2 would change, 0 ok, 0 failed, 0 unreachable/);
  assert.doesNotMatch(labelled.stdout, /^m3 /m);

  const status = await muster('status', '--limit', 'role=worker', '-o', 'json');
  assert.deepEqual(JSON.parse(status.stdout).map((v: { node: string }) => v.node), ['m3']);

  const nodes = await snapshot(path.join(f.dir, 'nodes'));
  const state = await snapshot(f.state);
  for (const limit of ['rack=z', 'w1', 'role=worker&rack=b', 'm1,,m2']) {
    const bad = await muster('apply', '-t', tasks, '--limit', limit);
    assert.equal(bad.code, 1, limit);
    assert.match(bad.stderr, /^muster: LIMIT_INVALID: --limit /, limit);
  }
  const unmatched = await muster('apply', '-t', tasks, '--limit', 'rack=z');
  assert.match(unmatched.stderr, /"rack=z" matches no node in the inventory \(nodes: m1, m2, m3; roles: control-plane, etcd, worker; label keys: rack\)/);
  assert.deepEqual(await snapshot(path.join(f.dir, 'nodes')), nodes, 'no agent was changed');
  assert.deepEqual(await snapshot(f.state), state, 'no certificate was issued');
});

test('conventions: -o json, yaml, wide and table for plan, apply, status, validate, certs and facts; ISO times in JSON, ages in tables', async () => {
  const planJson = JSON.parse((await muster('plan', '-t', tasks, '-o', 'json')).stdout);
  assert.equal(planJson.command, 'plan');
  assert.match(planJson.startedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(planJson.certificates.issuedInMemory.includes('m3/cert'));
  assert.equal(planJson.nodes.find((n: { node: string }) => n.node === 'm3').tasks.find((t: { id: string }) => t.id === 'cert').status, 'would-change');
  const planYaml = parse((await muster('plan', '-t', tasks, '-o', 'yaml')).stdout);
  assert.deepEqual(planYaml.nodes.map((n: { node: string }) => n.node), ['m1', 'm2', 'm3']);
  assert.deepEqual((await muster('plan', '-t', tasks, '--json')).stdout.length > 0, true, '--json still works');

  const apply = await muster('apply', '-t', tasks, '-o', 'json');
  assert.equal(apply.code, 0, apply.stderr);
  const applied = JSON.parse(apply.stdout);
  assert.deepEqual({ ...applied.summary }, { nodes: 3, inventoryNodes: 3, ok: 0, changed: 3, 'would-change': 0, failed: 0, unreachable: 0 });
  assert.ok(applied.certificates.issued.includes('m3/cert'));

  const wide = await muster('plan', '-t', tasks, '-o', 'wide', '--no-diff');
  assert.match(wide.stdout, /^NODE\s+RESULT\s+OK\s+CHANGED\s+WOULD\s+FAILED\s+TIME\s+REVISION\s+ROLES\s+ADDRESS\s+TASKS\s+DETAIL$/m);
  assert.match(wide.stdout, /^m3\s+ok\s.*\sworker\s+127\.0\.0\.1:\d+\s+2\s*$/m);

  const table = await muster('status');
  assert.match(table.stdout, /^NODE\s+ROLES\s+REACHABLE\s+REVISION\s+LAST APPLY\s+AGE\s+READY/m);
  assert.match(table.stdout, /^m1\s+etcd,control-plane\s+yes\s+[0-9a-f]{16}\s+converged\s+\d+s\s+yes/m);
  const statusWide = await muster('status', '-o', 'wide');
  assert.match(statusWide.stdout, /^m1\s+etcd,control-plane\s+127\.0\.0\.1:\d+\s+rack=a\s+yes\s+[0-9a-f]{16}\s+converged\s+\d+s\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/m);
  const statusJson = JSON.parse((await muster('status', '-o', 'json')).stdout);
  assert.match(statusJson[0].appliedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const statusYaml = parse((await muster('status', '-o', 'yaml')).stdout);
  assert.equal(statusYaml[2].node, 'm3');

  const validate = JSON.parse((await muster('validate', '-t', tasks, '-o', 'json')).stdout);
  assert.equal(validate.valid, true);
  assert.deepEqual(validate.certificates.issuedInMemory, [], 'after apply, validate loads what apply kept');
  assert.deepEqual(validate.nodes.map((n: { revision: string }) => n.revision), applied.nodes.map((n: { revision: string }) => n.revision), 'validate shows the revisions apply sent');

  const certs = JSON.parse((await muster('certs', 'check-expiration', '-o', 'json')).stdout);
  const cert = certs.find((c: { name: string }) => c.name === 'm3/cert');
  assert.match(cert.notAfter, /^\d{4}-\d\d-\d\dT/);
  assert.ok(cert.daysLeft >= 364);
  assert.match((await muster('certs', 'check-expiration', '-o', 'wide')).stdout, /^m3\/cert\s+cluster\s+\d{4}-\d\d-\d\d\s+36[45]\s+ca\s+CN=m3\s+-\s+-\s+[0-9A-F]+$/m);

  const facts = await muster('facts', 'm1', '-o', 'yaml');
  assert.equal(facts.code, 0, facts.stderr);
  assert.ok(parse(facts.stdout).hostname);
  assert.match((await muster('facts', 'm1')).stdout, /^memory\s+\d+\.\d GiB$/m);

  const badFormat = await muster('status', '-o', 'xml');
  assert.equal(badFormat.code, 1);
  assert.match(badFormat.stderr, /argument 'xml' is invalid\. Allowed choices are table, wide, json, yaml/);
});

test('conventions: colour and the live view only on a terminal; never with NO_COLOR; plain lines when piped', async () => {
  const tty = await onTty(['plan', '-t', tasks, '--no-diff']);
  assert.ok(tty.includes(`${ESC}[32mok${ESC}[0m`), 'results coloured on a terminal');
  assert.match(tty, /\[plan\] .*[█░]+.* 3\/3 nodes/, 'a progress bar for the fleet');
  const noColor = await onTty(['plan', '-t', tasks, '--no-diff'], { NO_COLOR: '1' });
  assert.doesNotMatch(noColor, new RegExp(`${ESC}\\[[0-9;]*m`), 'NO_COLOR: no colour codes');
  assert.match(noColor, /\[plan\] 3 nodes: 0 would change, 3 ok, 0 failed, 0 unreachable/);
  const piped = await muster('plan', '-t', tasks, '--no-diff');
  assert.ok(!piped.stdout.includes(ESC), 'piped: no escape codes at all');
  assert.doesNotMatch(piped.stdout, /[█░]/);
});

test('conventions: muster completion bash completes commands, subcommands, flags and their values', async () => {
  const script = (await run(['completion', 'bash'])).stdout;
  const complete = async (...words: string[]) => {
    const file = path.join(f.dir, 'completion.bash');
    await fs.writeFile(file, script);
    const arr = words.map((w) => `'${w}'`).join(' ');
    const { stdout } = await exec('bash', ['-c', `source '${file}'; COMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}; _muster; printf '%s\\n' "\${COMPREPLY[@]}"`]);
    return stdout.trim().split('\n').filter(Boolean).sort();
  };
  assert.deepEqual(await complete('muster', 'pl'), ['plan']);
  assert.deepEqual(await complete('muster', 'certs', ''), ['check-expiration', 'issue', 'renew']);
  assert.deepEqual(await complete('muster', '-s', 'x', 'certs', 'r'), ['renew'], 'a global flag\'s value is skipped');
  assert.deepEqual(await complete('muster', 'status', '-o', ''), ['json', 'table', 'wide', 'yaml']);
  assert.deepEqual(await complete('muster', 'plan', '--li'), ['--limit']);
  assert.deepEqual(await complete('muster', 'completion', ''), ['bash', 'zsh']);
  assert.ok((await complete('muster', 'apply', '--')).includes('--concurrency'));
  const zsh = (await run(['completion', 'zsh'])).stdout;
  assert.match(zsh, /^#compdef muster/);
  const bad = await run(['completion', 'fish']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /Allowed choices are bash, zsh/);
});

test('conventions: a config file sets the state folder, inventory and defaults; flags win; a bad one names file, line and field', async () => {
  const dir = path.join(f.dir, 'work');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'muster.yaml'), `state: ${f.state}\ninventory: ${path.relative(dir, f.inventoryFile)}\ntasks: ${tasks}\noutput: json\nconcurrency: 2\n`);
  const plan = await run(['plan'], { cwd: dir });
  assert.equal(plan.code, 0, plan.stderr);
  assert.equal(JSON.parse(plan.stdout).summary.nodes, 3, 'state, inventory, tasks and output from muster.yaml');
  const overridden = await run(['plan', '-o', 'table', '--no-diff'], { cwd: dir });
  assert.match(overridden.stdout, /\[plan\] 3 nodes: 0 would change/, 'a flag wins over the file');

  const other = path.join(f.dir, 'other.yaml');
  await fs.writeFile(other, `state: ${f.state}\ninventory: ${f.inventoryFile}\noutput: yaml\n`);
  const viaEnv = await run(['status'], { cwd: dir, env: { MUSTER_CONFIG: other } });
  assert.equal(parse(viaEnv.stdout)[0].node, 'm1', '$MUSTER_CONFIG instead of ./muster.yaml');

  await fs.writeFile(other, `state: ${f.state}\nconcurrency: many\ncolour: always\n`);
  const bad = await run(['status'], { cwd: dir, env: { MUSTER_CONFIG: other } });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^muster: CONFIG_INVALID: .*other\.yaml does not load:/);
  assert.match(bad.stderr, new RegExp(`${other.replace(/\./g, '\\.')}:2:\\d+: concurrency: .*number`));
  assert.match(bad.stderr, /other\.yaml:\d+:\d+: .*colour/);
  const missing = await run(['status'], { cwd: dir, env: { MUSTER_CONFIG: path.join(f.dir, 'nope.yaml') } });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope\.yaml:0:0: file not found/);
});
