// A rollout on a real etcd: three real etcd 3.4 members run from muster's own static pod
// manifests, each by a stand-in kubelet (no kubelet exists on this machine) that follows its
// node root's manifest as a kubelet does (restart on change, back-off on exit) and publishes its
// running pods for the crictl stand-in; real agents for those nodes (mTLS gRPC on loopback)
// report the static-pods probe from that crictl and the etcd probe from the real members; the
// RolloutRunner drives them through the runner's real adapters. A client writes every 50 ms
// with the API server's etcd client certificate through etcd's v3 API.
// Needs Debian packages etcd-server and jq; skips only when etcd is absent or its ports are taken.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startAgent, type Agent } from '../../agent/agent.js';
import { request } from '../../agent/probes/request.js';
import { etcdSnapshots, takeEtcdSnapshot } from '../../controller/app/etcd.js';
import { plansFrom } from '../../controller/app/plan-set.js';
import { loadClusterSpec } from '../../controller/inputs/cluster.js';
import { loadInventory } from '../../controller/inputs/inventory.js';
import { fleetStore, initFleet } from '../../controller/pki/fleet.js';
import { etcdLeader } from '../../controller/rollout/gates.js';
import type { NodeHealth } from '../../controller/rollout/ports.js';
import { RolloutRunner, type RolloutNodeInput, type RolloutOptions } from '../../controller/rollout/runner.js';
import { openStore } from '../../controller/store/sqlite.js';
import { Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import { agentPorts } from '../helpers/agent-ports.js';
import { freePort, repoRoot } from '../helpers/fleet.js';
import { silent } from '../helpers/host.js';
import { onNode, planOf, renderAndApplyExample, runProgram, writeExampleVariant, type AppliedCluster } from './helpers/cluster.js';
import { findBinary, isListening, sleep, waitForPortsClosed } from './helpers/etcd.js';
import { STANDINS } from './helpers/mount.js';
import { manifestPath, StandInKubelet } from './helpers/standin-kubelet.js';

// Addresses of their own, so this test and ha-cluster-etcd never share etcd's fixed ports.
const MEMBERS = [
  { name: 'e1', ip: '127.0.0.141' },
  { name: 'e2', ip: '127.0.0.142' },
  { name: 'e3', ip: '127.0.0.143' },
];
const PORTS = [2379, 2380, 2381];
const ELECTION_TIMEOUT_MS = 1000; // etcd's default --election-timeout

async function inventory(dir: string): Promise<{ file: string; agents: { name: string; address: string; agentPort: number }[] }> {
  const agents = await Promise.all(MEMBERS.map(async (m) => ({ name: m.name, address: m.ip, agentPort: await freePort(m.ip) })));
  const rows = [
    ...agents.map((a) => `  - { name: ${a.name}, address: ${a.address}, agentPort: ${a.agentPort}, roles: [etcd] }`),
    '  - { name: c1, address: 127.0.0.144, roles: [control-plane] }',
    '  - { name: lb1, address: 127.0.0.145, roles: [lb] }',
    '  - { name: lb2, address: 127.0.0.146, roles: [lb] }',
    '  - { name: w1, address: 127.0.0.147, roles: [worker] }',
  ];
  const file = path.join(dir, 'inventory.yaml');
  await fs.writeFile(file, `cluster: ha\ndefaults:\n  agentPort: 17443\nnodes:\n${rows.join('\n')}\n`);
  return { file, agents };
}

const manifestOf = (plan: Plan): string => plan.tasks.find((t) => t.id === 'etcd-manifest')!.staticPod!.manifest;

// The operator's etcd template: muster's own manifest with the node's values as placeholders,
// edited by `edit`; rendering it unedited gives back the built-in manifest (checked below).
function templateFrom(builtIn: string, edit: (text: string) => string = (t) => t): string {
  const e1 = MEMBERS[0];
  const text = builtIn
    .replace(/--initial-cluster=\S+/, '--initial-cluster=${ETCD_INITIAL_CLUSTER}')
    .replaceAll(`--name=${e1.name}`, '--name=${NODE_NAME}')
    .replaceAll(e1.ip, '${NODE_IP}');
  return edit(text);
}

async function plansWith(dir: string, cluster: AppliedCluster, inventoryFile: string, template: string, name: string): Promise<Map<string, Plan>> {
  const sub = path.join(dir, name);
  await fs.mkdir(sub, { recursive: true });
  await fs.writeFile(path.join(sub, 'etcd.yaml'), template);
  const file = await writeExampleVariant(sub, (s) => {
    s.probes = { ...(s.probes as object), intervalSeconds: 1 };
    s.templates = { etcd: 'etcd.yaml' };
  });
  const inv = await loadInventory(inventoryFile);
  const { plans } = await plansFrom({ inv, cluster: await loadClusterSpec(file, inv) }, cluster.state.pki);
  return new Map(plans.filter((p) => MEMBERS.some((m) => m.name === p.node)).map((p) => [p.node, p]));
}

const inputs = (plans: Map<string, Plan>): RolloutNodeInput[] =>
  [...plans.values()].map((p) => ({ name: p.node, roles: ['etcd'], plan: Plan.encode(p).finish(), revision: p.revision }));

interface Figures {
  writes: number;
  failures: number;
  longestFailureMs: number;
  samples: number;
  // Members answering /health at all (a stopped one refuses the connection).
  minUp: number;
  // Members answering health "true": during a leader transfer every member says false for a
  // few tens of milliseconds, so this is reported, not asserted (the write window is).
  minHealthy: number;
}

// A client writing every 50 ms through the v3 JSON gateway, sticking to one member and moving to
// the next when a write fails (as etcd clients fail over); and a sampler of every member's /health.
function load(endpoints: string[], tls: { ca: Buffer; cert: Buffer; key: Buffer }) {
  let stopped = false;
  const f: Figures = { writes: 0, failures: 0, longestFailureMs: 0, samples: 0, minUp: Infinity, minHealthy: Infinity };
  const writer = (async () => {
    let at = 0;
    let failingSince: number | undefined;
    let next = Date.now();
    for (let i = 0; !stopped; i++) {
      const key = Buffer.from('/muster/rollout-load').toString('base64');
      const value = Buffer.from(String(i)).toString('base64');
      const started = Date.now();
      let ok = false;
      try {
        const r = await request(`${endpoints[at]}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key, value }), timeoutMs: 500, tls });
        ok = r.status === 200 && !!JSON.parse(r.body).header;
      } catch {
        ok = false;
      }
      f.writes++;
      if (ok) {
        if (failingSince !== undefined) f.longestFailureMs = Math.max(f.longestFailureMs, Date.now() - failingSince);
        failingSince = undefined;
      } else {
        f.failures++;
        failingSince ??= started;
        at = (at + 1) % endpoints.length;
      }
      next += 50;
      await sleep(Math.max(0, next - Date.now()));
    }
    if (failingSince !== undefined) f.longestFailureMs = Math.max(f.longestFailureMs, Date.now() - failingSince);
  })();
  const sampler = (async () => {
    while (!stopped) {
      const answers = await Promise.all(endpoints.map((u) => request(`${u}/health`, { timeoutMs: 2000, tls }).then((r) => ({ up: true, healthy: r.status === 200 && JSON.parse(r.body).health === 'true' }), () => ({ up: false, healthy: false }))));
      f.samples++;
      f.minUp = Math.min(f.minUp, answers.filter((a) => a.up).length);
      f.minHealthy = Math.min(f.minHealthy, answers.filter((a) => a.healthy).length);
      await sleep(100);
    }
  })();
  return {
    async stop(): Promise<Figures> {
      stopped = true;
      await Promise.all([writer, sampler]);
      return f;
    },
  };
}

test('rollout on a real etcd: one member at a time, leader last, writes keep going; a broken flag pauses after the first member and undo brings it back', { timeout: 240_000 }, async (t) => {
  const etcdBinary = findBinary('etcd');
  if (!etcdBinary) return t.skip('etcd not installed (package etcd-server)');
  if (!findBinary('jq')) return t.skip('jq not installed: the crictl stand-in needs it');
  for (const { ip } of MEMBERS) {
    for (const port of PORTS) if (await isListening(ip, port)) return t.skip(`${ip}:${port} is already in use on this machine`);
  }
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-rollout-etcd-'));
  const kubelets: StandInKubelet[] = [];
  const agents: Agent[] = [];
  const cleanups: (() => unknown)[] = [];
  const killAll = () => kubelets.forEach((k) => k.current && k.current.exitCode() === undefined && process.kill(k.current.pid, 'SIGKILL'));
  process.once('exit', killAll);
  t.after(async () => {
    for (const c of cleanups.reverse()) await c();
    await Promise.allSettled(agents.map((a) => a.stop()));
    await Promise.allSettled(kubelets.map((k) => k.stop()));
    await Promise.allSettled(MEMBERS.map((m) => waitForPortsClosed(m.ip, PORTS)));
    process.removeListener('exit', killAll);
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const inv = await inventory(tmp);
  const clusterFile = await writeExampleVariant(path.join(tmp, 'spec'), (s) => {
    s.probes = { ...(s.probes as object), intervalSeconds: 1 };
  });
  const cluster = await renderAndApplyExample(tmp, { inventoryFile: inv.file, clusterFile });
  await initFleet(cluster.state.dir, cluster.state.inventory);

  // The crictl stand-in answers from <root>/run/containerd/standin-pods.json, which each
  // stand-in kubelet publishes; it records its argv under MUSTER_STANDIN_DIR.
  process.env.MUSTER_STANDIN_DIR = path.join(tmp, 'standin');
  await fs.mkdir(process.env.MUSTER_STANDIN_DIR, { recursive: true });
  for (const m of MEMBERS) kubelets.push(new StandInKubelet(cluster.roots.get(m.name)!, m.ip, etcdBinary, path.join(tmp, `${m.name}.log`)));
  await Promise.all(kubelets.map((k) => k.start()));
  const fleet = fleetStore(cluster.state.dir);
  const ca = Buffer.from((await fleet.read('ca'))!.certPem);
  for (const a of inv.agents) {
    const pair = (await fleet.read(`agents/${a.name}`))!;
    agents.push(await startAgent({
      name: a.name,
      root: cluster.roots.get(a.name)!,
      listen: { host: a.address, port: a.agentPort },
      http: false,
      tls: { ca, cert: Buffer.from(pair.certPem), key: Buffer.from(pair.keyPem) },
      log: silent,
      runtime: { crictl: path.join(STANDINS, 'crictl') },
    }));
  }
  const ports = await agentPorts(cluster.state.dir, inv.agents);
  cleanups.push(() => ports.close());
  const store = openStore(cluster.state.dir);
  cleanups.push(() => store.close());
  const runner = new RolloutRunner({ store, dispatcher: ports.dispatcher, health: ports.health, snapshots: ports.snapshots });

  const healths = async () => new Map(await Promise.all(MEMBERS.map(async (m) => [m.name, await ports.health.health(m.name)] as const)));
  const allRunning = (h: NodeHealth) => !!h.probes.etcd?.healthy && !!h.probes['static-pods']?.healthy && h.staticPods?.etcd?.runningHash === h.staticPods?.etcd?.manifestHash;
  const waitAll = async (what: string, ok: (h: Map<string, NodeHealth>) => boolean, ms = 60_000) => {
    const deadline = Date.now() + ms;
    let last = new Map<string, NodeHealth>();
    while (Date.now() < deadline) {
      last = await healths();
      if (ok(last)) return last;
      await sleep(250);
    }
    throw new Error(`${what}: not within ${ms} ms: ${JSON.stringify([...last].map(([n, h]) => [n, h.error, Object.fromEntries(Object.entries(h.probes).map(([p, v]) => [p, v.message]))]))}\n${kubelets.map((k) => k.current?.logs().split('\n').slice(-5).join('\n')).join('\n')}`);
  };
  // Before anything: every member healthy, and the agents see each running pod from its manifest.
  const start = await waitAll('every member running its manifest, as the agents see it', (h) => [...h.values()].every(allRunning));
  const crictlCalls = await fs.readFile(path.join(process.env.MUSTER_STANDIN_DIR, 'argv.log'), 'utf8');
  assert.match(crictlCalls, new RegExp(`crictl\t--runtime-endpoint\tunix://${cluster.roots.get('e1')}/run/containerd/containerd.sock\tpods\t--namespace\tkube-system\t-o\tjson`));

  // The operator's template, unedited, renders exactly muster's own manifests: only the flag differs below.
  const builtIn = manifestOf(planOf(cluster, 'e1'));
  const same = await plansWith(tmp, cluster, inv.file, templateFrom(builtIn), 'same');
  for (const m of MEMBERS) assert.equal(manifestOf(same.get(m.name)!), manifestOf(planOf(cluster, m.name)), `${m.name}: the template reproduces the built-in manifest`);

  // --- a good flag change on all three ---
  const good = await plansWith(tmp, cluster, inv.file, templateFrom(builtIn, (s) => s.replace('--snapshot-count=10000', '--snapshot-count=20000')), 'good');
  const leader = etcdLeader(start)!.node;
  const options: RolloutOptions = { soakMs: { etcd: 2_000 }, gateTimeoutMs: { etcd: 60_000 }, pollMs: 200 };
  const tls = { ca: readFileSync(onNode(cluster, 'c1', '/srv/kubernetes/etcd-ca.crt')), cert: readFileSync(onNode(cluster, 'c1', '/srv/kubernetes/apiserver-etcd-client.crt')), key: readFileSync(onNode(cluster, 'c1', '/srv/kubernetes/apiserver-etcd-client.key')) };
  const endpoints = MEMBERS.map((m) => `https://${m.ip}:2379`);
  const began = Date.now();
  const traffic = load(endpoints, tls);
  const rollout = await runner.start({ specHash: 'good', nodes: inputs(good), options });
  await sleep(1_000); // writes go on after the last member's soak, too
  const f = await traffic.stop();
  const tookMs = Date.now() - began;
  console.log(`rollout-etcd: flag change on 3 members in ${tookMs} ms: ${f.writes} writes, ${f.failures} failed, longest failure window ${f.longestFailureMs} ms, ${f.samples} samples, min members up ${f.minUp}, min healthy ${f.minHealthy}`);
  assert.equal(rollout.state, 'done', rollout.reason);
  for (const m of MEMBERS) assert.match(kubelets[MEMBERS.indexOf(m)].current!.command.join(' '), /--snapshot-count=20000/, `${m.name} restarted with the new flag`);
  const restarts = kubelets.flatMap((k, i) => k.events.filter((e) => e.what === 'stopped' && e.atMs >= began).map((e) => ({ node: MEMBERS[i].name, atMs: e.atMs }))).sort((a, b) => a.atMs - b.atMs);
  assert.equal(restarts.length, 3, 'each member restarted once');
  assert.equal(restarts.at(-1)!.node, leader, `the leader ${leader} changed last: ${restarts.map((r) => r.node).join(', ')}`);
  assert.ok(f.minUp >= 2, `at every sample at least two members up (min ${f.minUp})`);
  // One member at a time: each member's stop comes after the one before it was running again.
  const starts = kubelets.flatMap((k, i) => k.events.filter((e) => e.what === 'started' && e.atMs >= began).map((e) => ({ node: MEMBERS[i].name, atMs: e.atMs })));
  for (const [i, r] of restarts.entries()) {
    if (i === 0) continue;
    const back = starts.find((s) => s.node === restarts[i - 1].node && s.atMs >= restarts[i - 1].atMs);
    assert.ok(back && back.atMs < r.atMs, `${r.node} was stopped only after ${restarts[i - 1].node} was started again`);
  }
  assert.ok(f.longestFailureMs < ELECTION_TIMEOUT_MS, `no write failed for longer than one election timeout: ${f.longestFailureMs} ms`);
  assert.ok(f.writes > 100, `the client kept writing: ${f.writes}`);

  // --- a broken flag: etcd exits at start; the rollout pauses after the first member ---
  await waitAll('every member healthy again', (h) => [...h.values()].every(allRunning));
  const broken = await plansWith(tmp, cluster, inv.file, templateFrom(builtIn, (s) => s.replace('--snapshot-count=10000', '--snapshot-count=20000\n        - --no-such-flag=1')), 'broken');
  assert.match(manifestOf(broken.get('e1')!), /--no-such-flag=1/);
  const before = new Map(await Promise.all(MEMBERS.map(async (m, i) => [m.name, { pid: kubelets[i].current!.pid, manifest: await fs.readFile(manifestPath(cluster.roots.get(m.name)!), 'utf8') }] as const)));
  const sentBefore = ports.dispatched.length;
  const bad = await runner.start({ specHash: 'broken', nodes: inputs(broken), options: { ...options, gateTimeoutMs: { etcd: 8_000 } } });
  assert.equal(bad.state, 'paused');
  const waves = await store.waves(bad.id);
  const first = waves[0].nodes[0];
  assert.match(bad.reason, new RegExp(`etcd node ${first} failed: gate: static-pods: no pass within 8000 ms`));
  assert.deepEqual(ports.dispatched.slice(sentBefore).map((d) => d.node), [first], 'nothing sent to the others');
  for (const m of MEMBERS.filter((x) => x.name !== first)) {
    const i = MEMBERS.indexOf(m);
    assert.equal(await fs.readFile(manifestPath(cluster.roots.get(m.name)!), 'utf8'), before.get(m.name)!.manifest, `${m.name}'s manifest untouched`);
    assert.equal(kubelets[i].current!.pid, before.get(m.name)!.pid, `${m.name} still the same process`);
  }
  // The snapshot was taken on the first member before its manifest changed: the file is there,
  // 0600, and its checksum matches the one recorded beside it and in the journal.
  const entries = await store.entries(bad.id);
  assert.deepEqual(entries.slice(0, 2).map((e) => [e.node, e.step]), [[first, 'snapshot'], [first, 'dispatched']]);
  const snapshotPath = /^(\S+\.db), (\d+) bytes, revision (\d+), sha256 ([0-9a-f]{64})$/.exec(entries[0].detail)!;
  assert.ok(snapshotPath, entries[0].detail);
  const file = onNode(cluster, first, snapshotPath[1]);
  const bytes = await fs.readFile(file);
  assert.equal(bytes.length, Number(snapshotPath[2]));
  assert.equal(createHash('sha256').update(bytes).digest('hex'), snapshotPath[4]);
  assert.equal((await fs.readFile(`${file}.sha256`, 'utf8')).split(' ')[0], snapshotPath[4]);
  assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
  assert.ok(Number(snapshotPath[3]) > 100, 'the revision after the writes');
  // etcdctl accepts it as an etcd snapshot (it checks the hash etcd appends).
  const status = await runProgram('etcdctl', ['snapshot', 'status', file, '-w', 'json'], { env: { ...process.env, ETCDCTL_API: '3' } });
  assert.equal(status.status, 0, status.output);
  assert.equal(JSON.parse(status.stdout).revision, Number(snapshotPath[3]));
  // What `muster etcd snapshots` lists: one per rollout (the first rollout's too), this one on its node.
  const listed = await etcdSnapshots({ state: cluster.state.dir, inventory: inv.file });
  assert.deepEqual(listed.errors, []);
  assert.equal(listed.rows.length, 2, JSON.stringify(listed.rows));
  assert.ok(listed.rows.some((r) => r.node === first && r.path === snapshotPath[1] && r.sha256 === snapshotPath[4] && r.sizeBytes === Number(snapshotPath[2])));
  console.log(`rollout-etcd: snapshot before ${first}: ${snapshotPath[2]} bytes at revision ${snapshotPath[3]}`);

  const firstKubelet = kubelets[MEMBERS.findIndex((m) => m.name === first)];
  assert.ok(firstKubelet.events.some((e) => e.what === 'exited' && e.atMs > began), `${first} exited on the broken flag`);
  assert.match(firstKubelet.current!.logs(), /no-such-flag/);

  // Undo: the first member gets its earlier generation back (with the rollback flag) and is healthy.
  const undo = await runner.undo(bad.id);
  assert.equal(undo.state, 'done', undo.reason);
  const after = await waitAll('the first member healthy again', (h) => allRunning(h.get(first)!));
  assert.equal(after.get(first)!.generation, waves[0].generations[first] - 1, `${first} holds the earlier generation`);
  assert.equal(await fs.readFile(manifestPath(cluster.roots.get(first)!), 'utf8'), before.get(first)!.manifest, `${first}'s manifest is the good one again`);
  assert.doesNotMatch(firstKubelet.current!.command.join(' '), /no-such-flag/);

  // `muster etcd snapshot --node e3`: on demand, through the same agent call; listed after.
  const taken = await takeEtcdSnapshot({ state: cluster.state.dir, inventory: inv.file, node: 'e3' });
  const onE3 = await fs.readFile(onNode(cluster, 'e3', taken.snapshot.path));
  assert.equal(createHash('sha256').update(onE3).digest('hex'), taken.snapshot.sha256);
  assert.ok((await etcdSnapshots({ state: cluster.state.dir, inventory: inv.file, node: 'e3' })).rows.some((r) => r.path === taken.snapshot.path));
  await assert.rejects(takeEtcdSnapshot({ state: cluster.state.dir, inventory: inv.file, node: 'w1' }), /w1 is not an etcd node/);

  // The same through the CLI process an operator runs.
  const cli = (...args: string[]) => runProgram(process.execPath, [path.join(repoRoot, 'bin/muster.js'), '-s', cluster.state.dir, '-i', inv.file, ...args]);
  const byCli = await cli('etcd', 'snapshot', '--node', 'e2');
  assert.equal(byCli.status, 0, byCli.output);
  const line = byCli.stdout.match(/^\[etcd\] snapshot on e2: (\S+) \((\d+) bytes, revision (\d+), sha256 ([0-9a-f]{64})\)$/m);
  assert.ok(line, byCli.output);
  assert.equal(createHash('sha256').update(await fs.readFile(onNode(cluster, 'e2', line[1]))).digest('hex'), line[4]);
  const listedByCli = await cli('etcd', 'snapshots', '--node', 'e2', '--json');
  assert.equal(listedByCli.status, 0, listedByCli.output);
  const json = JSON.parse(listedByCli.stdout) as { snapshots: { node: string; path: string; sha256: string }[]; errors: unknown[] };
  assert.deepEqual(json.errors, []);
  assert.ok(json.snapshots.some((r) => r.node === 'e2' && r.path === line[1] && r.sha256 === line[4]), listedByCli.stdout);
  assert.match((await cli('etcd', 'snapshots')).stdout, /^NODE\s+TIME\s+SIZE\s+REVISION\s+SHA256\s+PATH$/m);
  const notEtcd = await cli('etcd', 'snapshot', '--node', 'w1');
  assert.notEqual(notEtcd.status, 0);
  assert.match(notEtcd.output, /w1 is not an etcd node/);
});
