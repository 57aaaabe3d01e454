import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import type { Agent } from '../../agent/agent.js';
import { startAgent } from '../../agent/agent.js';
import { Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import { ClusterPki } from '../../controller/pki/cluster.js';
import { initFleet } from '../../controller/pki/fleet.js';
import { plansFrom } from '../../controller/app/plan-set.js';
import { loadClusterSpec } from '../../controller/inputs/cluster.js';
import { loadInventory, type Inventory } from '../../controller/inputs/inventory.js';
import { agentTls, freePort, repoRoot, type TestFleet } from '../helpers/fleet.js';
import { CLUSTER_NODE_TREES, silent, snapshot } from '../helpers/host.js';

const exec = promisify(execFile);
const example = path.join(repoRoot, 'examples/ha-cluster/local');
let dir: string;
let inventoryFile: string;
let inv: Inventory;
let agents: Agent[] = [];

before(async () => {
  dir = await fs.mkdtemp(path.join((await import('node:os')).tmpdir(), 'muster-ha-'));
  inventoryFile = path.join(dir, 'inventory.yaml');
  const port = await freePort('127.0.0.21');
  await fs.writeFile(inventoryFile, (await fs.readFile(path.join(example, 'inventory.yaml'), 'utf8')).replace('agentPort: 17443', `agentPort: ${port}`));
  inv = await loadInventory(inventoryFile);
  await initFleet(path.join(dir, 'state'), inv);
  const f = { state: path.join(dir, 'state') } as TestFleet;
  agents = await Promise.all(inv.nodes.map(async (n) => {
    const root = path.join(dir, 'nodes', n.name);
    await fs.mkdir(root, { recursive: true });
    return startAgent({ name: n.name, root, listen: { host: n.address, port: n.agentPort }, http: false, tls: await agentTls(f, n.name), log: silent, allowedTrees: CLUSTER_NODE_TREES });
  }));
});

after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await fs.rm(dir, { recursive: true, force: true });
});

async function muster(...args: string[]) {
  try {
    const r = await exec(process.execPath, [path.join(repoRoot, 'bin/muster.js'), '-s', path.join(dir, 'state'), '-i', inventoryFile, ...args]);
    return { code: 0, ...r };
  } catch (err) {
    return err as { code: number; stdout: string; stderr: string };
  }
}

const root = (node: string, p: string) => path.join(dir, 'nodes', node, p);

test('ha cluster: plan then apply converge the ten nodes, and a second plan finds nothing to change', async () => {
  const cluster = path.join(example, 'cluster.yaml');
  const stateBefore = await snapshot(path.join(dir, 'state'));
  const validated = await muster('validate', '-c', cluster);
  assert.equal(validated.code, 0, validated.stderr);
  assert.match(validated.stdout, /\[validate\] \d+ certificate\(s\) or key\(s\) not in the state folder yet \(ca, etcd-ca, front-proxy-ca, apiserver/);
  const plan = await muster('plan', '-c', cluster, '--no-diff');
  assert.equal(plan.code, 2, plan.stderr + plan.stdout);
  assert.match(plan.stdout, /\[plan\] 10 nodes: 10 would change, 0 ok, 0 failed, 0 unreachable/);
  assert.match(plan.stdout, /issued in memory for this run only/);
  assert.deepEqual(await snapshot(path.join(dir, 'state')), stateBefore, 'validate and plan wrote nothing to the state folder');
  const apply = await muster('apply', '-c', cluster, '--no-diff');
  assert.equal(apply.code, 0, apply.stdout + apply.stderr);
  const again = await muster('plan', '-c', cluster, '--no-diff');
  assert.equal(again.code, 0, again.stdout);
  assert.match(again.stdout, /\[plan\] 10 nodes: 0 would change, 10 ok, 0 failed, 0 unreachable/);
  assert.doesNotMatch(again.stdout, /issued in memory/);
  // Once the certificates exist, validate shows the revisions plan sends.
  const planned = new Map([...again.stdout.matchAll(/^\[plan\] (\S+): ok .* revision ([0-9a-f]{16})$/gm)].map((x) => [x[1], x[2]]));
  const shown = new Map([...(await muster('validate', '-c', cluster)).stdout.matchAll(/^(\S+)\s+\S+\s+\d+\s+\d+\s+([0-9a-f]{16})$/gm)].map((x) => [x[1], x[2]]));
  assert.equal(planned.size, 10);
  assert.deepEqual(shown, planned);

  // What an operator checks on the nodes.
  const etcd = parse(await fs.readFile(root('m2', 'etc/kubernetes/manifests/etcd.yaml'), 'utf8'));
  const etcdCmd: string[] = etcd.spec.containers[0].command;
  assert.ok(etcdCmd.includes('--name=m2'));
  assert.ok(etcdCmd.includes('--initial-cluster=m1=https://127.0.0.21:2380,m2=https://127.0.0.22:2380,m3=https://127.0.0.23:2380'));
  const api = parse(await fs.readFile(root('m1', 'etc/kubernetes/manifests/kube-apiserver.yaml'), 'utf8')).spec.containers[0].command as string[];
  assert.ok(api.includes('--max-requests-inflight=400'));
  assert.ok(api.includes('--etcd-servers=https://127.0.0.21:2379,https://127.0.0.22:2379,https://127.0.0.23:2379'));
  assert.ok(!api.some((f) => f.startsWith('--basic-auth-file')));
  for (const c of ['kube-scheduler', 'kube-controller-manager']) {
    const cmd = parse(await fs.readFile(root('m3', `etc/kubernetes/manifests/${c}.yaml`), 'utf8')).spec.containers[0].command as string[];
    assert.ok(cmd.includes('--leader-elect=true'), c);
  }
  const cm = parse(await fs.readFile(root('m1', 'etc/kubernetes/manifests/kube-controller-manager.yaml'), 'utf8')).spec.containers[0].command as string[];
  assert.ok(cm.includes('--allocate-node-cidrs=true') && cm.includes('--cluster-cidr=10.244.0.0/16'));
  for (const f of ['ca.crt', 'server.cert', 'server.key', 'kubecfg.crt', 'kubecfg.key', 'sa.key', 'sa.pub']) await fs.access(root('m2', `srv/kubernetes/${f}`));
  assert.equal((await fs.stat(root('m2', 'srv/kubernetes/server.key'))).mode & 0o777, 0o600);
  assert.match(await fs.readFile(root('lb1', 'etc/haproxy/haproxy.cfg'), 'utf8'), /server m3 127\.0\.0\.23:6443/);
  assert.match(await fs.readFile(root('lb2', 'etc/keepalived/keepalived.conf'), 'utf8'), /192\.0\.2\.100/);
  await assert.rejects(fs.access(root('w1', 'etc/kubernetes/manifests/etcd.yaml')), 'workers get no control plane');
  assert.match(await fs.readFile(root('w1', 'etc/kubernetes/kubelet.conf'), 'utf8'), /server: https:\/\/192\.0\.2\.100:6443/);
  const dns = await fs.readFile(root('m1', 'etc/kubernetes/addons/dns.yaml'), 'utf8');
  assert.match(dns, /clusterIP: 10\.96\.0\.10/);
  // Every node gets the runtime and the kubelet's configuration; control-plane nodes the addons and their manager.
  for (const node of ['m1', 'lb2', 'w4']) {
    assert.match(await fs.readFile(root(node, 'etc/containerd/config.toml'), 'utf8'), /SystemdCgroup = true/);
    const kubelet = parse(await fs.readFile(root(node, 'var/lib/kubelet/config.yaml'), 'utf8'));
    assert.deepEqual([kubelet.kind, kubelet.clusterDNS, kubelet.cgroupDriver, kubelet.tlsCertFile], ['KubeletConfiguration', ['10.96.0.10'], 'systemd', '/var/lib/kubelet/pki/kubelet.crt']);
    assert.match(await fs.readFile(root(node, 'etc/systemd/system/kubelet.service.d/10-muster.conf'), 'utf8'), new RegExp(`--hostname-override=${node}\\b`));
  }
  const serving = new X509Certificate(await fs.readFile(root('w4', 'var/lib/kubelet/pki/kubelet.crt')));
  assert.equal(serving.subject, 'O=system:nodes\nCN=system:node:w4');
  assert.match(serving.subjectAltName ?? '', /DNS:w4, IP Address:127\.0\.0\.29/);
  for (const f of ['dns.yaml', 'kube-proxy.yaml', 'cni-flannel.yaml']) assert.match(await fs.readFile(root('m2', `etc/kubernetes/addons/${f}`), 'utf8'), /addonmanager\.kubernetes\.io\/mode: Reconcile/);
  const manager = parse(await fs.readFile(root('m3', 'etc/kubernetes/manifests/kube-addon-manager.yaml'), 'utf8'));
  assert.deepEqual(manager.spec.containers[0].env.find((e: { name: string }) => e.name === 'KUBECTL_OPTS'), { name: 'KUBECTL_OPTS', value: '--kubeconfig=/srv/kubernetes/addon-manager.kubeconfig' });
  assert.match(await fs.readFile(root('m3', 'srv/kubernetes/addon-manager.kubeconfig'), 'utf8'), /client-certificate-data/);
  await assert.rejects(fs.access(root('w1', 'etc/kubernetes/addons/kube-proxy.yaml')), 'workers get no addons');

  const certs = await muster('certs', 'check-expiration');
  assert.equal(certs.code, 0);
  assert.match(certs.stdout, /^apiserver\s+cluster\s+\d{4}-\d\d-\d\d\s+36[45]\s+ca\s+CN=kube-apiserver$/m);
  assert.match(certs.stdout, /^etcd\/m2\/peer\s+.*etcd-ca/m);
});

test('ha cluster: rendering is deterministic (same input, same bytes, same revisions)', async () => {
  const state = path.join(dir, 'state');
  const spec = await loadClusterSpec(path.join(example, 'cluster.yaml'), inv);
  const { plans: a } = await plansFrom({ inv, cluster: spec }, new ClusterPki(state, inv.cluster));
  const { plans: b } = await plansFrom({ inv, cluster: await loadClusterSpec(path.join(example, 'cluster.yaml'), inv) }, new ClusterPki(state, inv.cluster));
  assert.deepEqual(a.map((p) => p.revision), b.map((p) => p.revision));
  assert.deepEqual(a.map((p) => Buffer.from(Plan.encode(p).finish()).toString('base64')), b.map((p) => Buffer.from(Plan.encode(p).finish()).toString('base64')));
  // The shape of every node's plan, as a golden list (task ids in order).
  const golden = JSON.parse(await fs.readFile(path.join(repoRoot, 'test/fixtures/ha-cluster-tasks.json'), 'utf8'));
  assert.deepEqual(Object.fromEntries(a.map((p) => [p.node, [...p.tasks.map((t) => t.id), ...p.handlers.map((h) => `handler:${h.id}`)]])), golden);
});

test('ha cluster: an unknown placeholder in an operator template names it and the file; nothing is sent', async () => {
  const spec = path.join(dir, 'with-template.yaml');
  const template = path.join(dir, 'my-etcd.yaml');
  await fs.writeFile(template, (await fs.readFile(path.join(repoRoot, 'examples/ha-cluster/templates/etcd.yaml'), 'utf8')).replace('${NODE_IP}:2380', '${NODE_ADDR}:2380'));
  await fs.writeFile(spec, (await fs.readFile(path.join(example, 'cluster.yaml'), 'utf8')) + `templates: { etcd: ${template} }\n`);
  const before = await fs.readFile(root('m1', 'etc/kubernetes/manifests/etcd.yaml'), 'utf8').catch(() => '');
  const out = await muster('apply', '-c', spec);
  assert.equal(out.code, 1);
  assert.match(out.stderr, /nothing was sent to any agent/);
  assert.match(out.stderr, new RegExp(`unknown placeholder \\$\\{NODE_ADDR\\} in ${template.replace(/[.]/g, '\\.')}`));
  assert.equal(await fs.readFile(root('m1', 'etc/kubernetes/manifests/etcd.yaml'), 'utf8').catch(() => ''), before);
});

test('ha cluster: an operator template with discovery fills ${DISCOVERY_TOKEN} per node', async () => {
  const spec = path.join(dir, 'discovery.yaml');
  await fs.writeFile(spec, (await fs.readFile(path.join(example, 'cluster.yaml'), 'utf8')) + `etcd: { discovery: "http://127.0.0.1:2381/abc123" }\ntemplates: { etcd: ${path.join(repoRoot, 'examples/ha-cluster/templates/etcd.yaml')} }\n`);
  const out = await muster('validate', '-c', spec);
  assert.equal(out.code, 0, out.stderr);
  const { plans } = await plansFrom({ inv, cluster: await loadClusterSpec(spec, inv) }, new ClusterPki(path.join(dir, 'state'), inv.cluster));
  const manifest = plans.find((p) => p.node === 'm3')!.tasks.find((t) => t.id === 'etcd-manifest')!.staticPod!.manifest;
  assert.match(manifest, /--discovery=http:\/\/127\.0\.0\.1:2381\/abc123/);
  assert.match(manifest, /--name=m3/);
  assert.match(manifest, /--initial-advertise-peer-urls=https:\/\/127\.0\.0\.23:2380/);
});

test('ha cluster: certs renew --within re-issues, and the next plan rolls the new certificates out', async () => {
  const cluster = path.join(example, 'cluster.yaml');
  assert.equal((await muster('apply', '-c', cluster, '--no-diff')).code, 0);
  const none = await muster('certs', 'renew', '--within', '30');
  assert.match(none.stdout, /0 certificate\(s\) renewed \(those with fewer than 30 days left\)/);
  const renew = await muster('certs', 'renew', '--within', '400');
  assert.match(renew.stdout, /\[certs\] renewed apiserver\n/);
  assert.match(renew.stdout, /\[certs\] renewed kubelet\/w5\n/);
  const plan = await muster('plan', '-c', cluster, '--no-diff');
  assert.equal(plan.code, 2);
  assert.match(plan.stdout, /~ apiserver-cert \(certificate\) would-change/);
  assert.match(plan.stdout, /~ kubelet-client-cert \(certificate\) would-change/);
  assert.equal((await muster('apply', '-c', cluster, '--no-diff')).code, 0);
  assert.equal((await muster('plan', '-c', cluster, '--no-diff')).code, 0);
});

test('ha cluster: muster discovery serve and new hand out a token etcd can use', async () => {
  const port = await freePort();
  const { spawn } = await import('node:child_process');
  const serve = spawn(process.execPath, [path.join(repoRoot, 'bin/muster.js'), '-s', path.join(dir, 'state'), '-i', inventoryFile, 'discovery', 'serve', '--listen', `127.0.0.1:${port}`], { stdio: 'ignore' });
  try {
    const { waitForPort } = await import('../helpers/fleet.js');
    await waitForPort('127.0.0.1', port, 20_000);
    const out = await muster('discovery', 'new', '--size', '3', '--server', `http://127.0.0.1:${port}`);
    assert.equal(out.code, 0, out.stderr);
    const url = out.stdout.trim();
    assert.match(url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/[0-9a-f]{32}$`));
    const size = await (await fetch(`${url}/_config/size`)).json();
    assert.equal(size.node.value, '3');
    const bad = await muster('discovery', 'new', '--size', '99', '--server', `http://127.0.0.1:${port}`);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /size must be an integer from 1 to 15/);
  } finally {
    serve.kill('SIGTERM');
    await new Promise((r) => serve.once('exit', r));
  }
  // The token outlives the server: it is kept in the state folder.
  assert.match(await fs.readFile(path.join(dir, 'state', 'discovery.json'), 'utf8'), /_config/);
});

test('ha cluster: switching the load balancer from haproxy to nginx shows the haproxy config as a removal, apply removes it; prune: false keeps it', async () => {
  const cluster = path.join(example, 'cluster.yaml');
  assert.equal((await muster('apply', '-c', cluster, '--no-diff')).code, 0);
  const text = await fs.readFile(cluster, 'utf8');
  const nginx = path.join(dir, 'nginx.yaml');
  await fs.writeFile(nginx, text.replace('kind: haproxy', 'kind: nginx'));
  const before = await snapshot(root('lb1', '.'));
  const plan = await muster('plan', '-c', nginx, '--no-diff');
  assert.equal(plan.code, 2, plan.stderr);
  for (const lb of ['lb1', 'lb2']) assert.match(plan.stdout, new RegExp(`^\\[plan\\] ${lb}: would-change \\(3 would change, \\d+ ok, 1 to remove\\)`, 'm'));
  assert.match(plan.stdout, /^ {2}- lb-config \(file\) would remove \/etc\/haproxy\/haproxy\.cfg$/m);
  assert.match(plan.stdout, /^ {2}~ lb-config \(file\) would-change$/m);
  assert.deepEqual(await snapshot(root('lb1', '.')), before, 'plan touched nothing');
  const json = (JSON.parse((await muster('plan', '-c', nginx, '--json')).stdout) as { nodes: { node: string; tasks: { id: string; status: string; removal?: boolean; diffs: { header: string }[] }[] }[] }).nodes;
  const removal = json.find((n) => n.node === 'lb2')!.tasks.find((t) => t.removal)!;
  assert.deepEqual([removal.id, removal.status, removal.diffs.map((d) => d.header)], ['lb-config', 'would-change', ['/etc/haproxy/haproxy.cfg']]);
  assert.ok(json.find((n) => n.node === 'w1')!.tasks.every((t) => !t.removal));

  const kept = path.join(dir, 'nginx-keep.yaml');
  await fs.writeFile(kept, text.replace('kind: haproxy', 'kind: nginx') + 'prune: false\n');
  const keep = await muster('apply', '-c', kept, '--no-diff');
  assert.equal(keep.code, 0, keep.stdout + keep.stderr);
  assert.doesNotMatch(keep.stdout, /removed/);
  await fs.access(root('lb1', 'etc/haproxy/haproxy.cfg'));
  await fs.access(root('lb1', 'etc/nginx/nginx.conf'));

  // Back to haproxy, then to nginx with pruning on: the haproxy config goes.
  assert.equal((await muster('apply', '-c', cluster, '--no-diff')).code, 0);
  const apply = await muster('apply', '-c', nginx, '--no-diff');
  assert.equal(apply.code, 0, apply.stdout + apply.stderr);
  assert.match(apply.stdout, /^ {2}- lb-config \(file\) removed \/etc\/haproxy\/haproxy\.cfg$/m);
  for (const lb of ['lb1', 'lb2']) {
    await assert.rejects(fs.access(root(lb, 'etc/haproxy/haproxy.cfg')), `${lb} has no haproxy config left`);
    assert.match(await fs.readFile(root(lb, 'etc/nginx/nginx.conf'), 'utf8'), /127\.0\.0\.23:6443/);
  }
  assert.equal((await muster('plan', '-c', nginx, '--no-diff')).code, 0);
});

test('ha cluster: muster kubeconfig prints the admin kubeconfig through the VIP, writes it 0600 with -o, and refuses without a cluster CA', async () => {
  const cluster = path.join(example, 'cluster.yaml');
  assert.equal((await muster('apply', '-c', cluster, '--no-diff')).code, 0);
  const printed = await muster('kubeconfig', '-c', cluster);
  assert.equal(printed.code, 0, printed.stderr);
  const config = parse(printed.stdout);
  assert.equal(config.clusters[0].cluster.server, 'https://192.0.2.100:6443');
  const cert = new X509Certificate(Buffer.from(config.users[0].user['client-certificate-data'], 'base64'));
  assert.equal(cert.subject, 'O=system:masters\nCN=kubernetes-admin');
  assert.equal(Buffer.from(config.clusters[0].cluster['certificate-authority-data'], 'base64').toString(), await fs.readFile(path.join(dir, 'state/pki/cluster/ca.crt'), 'utf8'));
  const file = path.join(dir, 'admin.conf');
  await fs.writeFile(file, 'old\n', { mode: 0o644 });
  const written = await muster('kubeconfig', '-c', cluster, '-o', file);
  assert.equal(written.code, 0, written.stderr);
  assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
  assert.deepEqual(parse(await fs.readFile(file, 'utf8')).users, config.users, 'the same kept certificate, not a new one');
  const empty = await exec(process.execPath, [path.join(repoRoot, 'bin/muster.js'), '-s', path.join(dir, 'no-state'), '-i', inventoryFile, 'kubeconfig', '-c', cluster]).catch((e: { code: number; stderr: string }) => e);
  assert.equal((empty as { code: number }).code, 1);
  assert.match((empty as { stderr: string }).stderr, /NO_CLUSTER_CA: .*no-state holds no cluster CA for ha: run "muster apply" first/);
  await assert.rejects(fs.access(path.join(dir, 'no-state')), 'nothing was made in the empty state folder');
});

test('ha cluster: switching to pki.layout kubeadm converges, moves the control plane\'s files to /etc/kubernetes/pki and removes /srv/kubernetes', async () => {
  const cluster = path.join(example, 'cluster.yaml');
  assert.equal((await muster('apply', '-c', cluster, '--no-diff')).code, 0);
  const kubeadm = path.join(dir, 'kubeadm.yaml');
  await fs.writeFile(kubeadm, (await fs.readFile(cluster, 'utf8')) + 'pki: { layout: kubeadm }\n');
  const apply = await muster('apply', '-c', kubeadm, '--no-diff');
  assert.equal(apply.code, 0, apply.stdout + apply.stderr);
  assert.match(apply.stdout, /- apiserver-cert \(certificate\) removed \/srv\/kubernetes\/server\.cert/);
  for (const f of ['pki/ca.crt', 'pki/apiserver.crt', 'pki/front-proxy-ca.crt', 'pki/front-proxy-client.key', 'pki/sa.pub', 'pki/etcd/ca.crt', 'admin.conf', 'scheduler.conf', 'controller-manager.conf']) {
    await fs.access(root('m2', `etc/kubernetes/${f}`));
  }
  await assert.rejects(fs.access(root('m2', 'etc/kubernetes/pki/ca.key')), 'no CA key on the node');
  await assert.rejects(fs.access(root('m2', 'srv/kubernetes/server.cert')), 'the seed layout\'s files are gone');
  const api = parse(await fs.readFile(root('m2', 'etc/kubernetes/manifests/kube-apiserver.yaml'), 'utf8')).spec.containers[0].command as string[];
  assert.ok(api.includes('--proxy-client-cert-file=/etc/kubernetes/pki/front-proxy-client.crt'));
  assert.equal((await muster('plan', '-c', kubeadm, '--no-diff')).code, 0);
  assert.equal((await muster('apply', '-c', cluster, '--no-diff')).code, 0, 'and back');
  await fs.access(root('m2', 'srv/kubernetes/server.cert'));
});

test('ha cluster: muster rollout --dry-run shows the waves: etcd members one at a time, then lb nodes one at a time, then workers in batches; nothing sent or kept', async () => {
  // A new Kubernetes version, load balancer kind and a file on every node: every plan changes.
  const tasks = path.join(dir, 'note.yaml');
  await fs.writeFile(tasks, 'tasks:\n  - id: note\n    file: { path: /etc/kubernetes/muster-note, content: "v1.31.3\\n" }\n');
  const cluster = path.join(dir, 'upgrade.yaml');
  await fs.writeFile(cluster, (await fs.readFile(path.join(example, 'cluster.yaml'), 'utf8')).replace('version: v1.31.2', 'version: v1.31.3').replace('kind: haproxy', 'kind: nginx'));
  const before = await snapshot(path.join(dir, 'nodes'));
  const out = await muster('rollout', '-c', cluster, '-t', tasks, '--dry-run', '--no-diff', '--batch', '2');
  assert.equal(out.code, 0, out.stderr);
  const waves = [...out.stdout.matchAll(/^\[rollout\] wave \d+: .*: (.*)$/gm)].map((m) => m[1]);
  assert.deepEqual(waves, ['m1', 'm2', 'm3', 'lb1', 'lb2', 'w1, w2', 'w3, w4', 'w5'], out.stdout);
  assert.match(out.stdout, /dry run: 8 wave\(s\), 10 node\(s\) would change; nothing was sent or kept/);
  assert.deepEqual(await snapshot(path.join(dir, 'nodes')), before, 'nothing sent');
});
