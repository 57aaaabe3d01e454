import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { SpecError } from '../../../common/yaml-load.js';
import type { Plan } from '../../../proto/gen/muster/agent/v1/agent.js';
import { plansFrom } from '../../app/plan-set.js';
import { loadClusterSpec } from '../../inputs/cluster.js';
import { loadInventory, type Inventory } from '../../inputs/inventory.js';
import { ClusterPki } from '../../pki/cluster.js';

// The HA example as real nodes get it (system.manage: true): every node's tasks, in order.
const ex = new URL('../../../examples/ha-cluster/', import.meta.url).pathname;
const KEY = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGMHoXcBEADukGOEQyleViOgtkMVa7hKifP6POCTh+98xNW4TfHK/nBJN2sm\n-----END PGP PUBLIC KEY BLOCK-----\n';
let inv: Inventory;
let dir: string;

before(async () => {
  inv = await loadInventory(path.join(ex, 'inventory.yaml'));
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-plan-'));
});
after(() => fs.rm(dir, { recursive: true, force: true }));

async function plansFor(extra = '', edit = (s: string) => s): Promise<Map<string, Plan>> {
  const file = path.join(dir, `cluster-${Math.random().toString(36).slice(2)}.yaml`);
  const example = edit(await fs.readFile(path.join(ex, 'cluster.yaml'), 'utf8'));
  // The example as it is, or its part before the runtime settings with others instead.
  await fs.writeFile(file, extra ? example.slice(0, example.indexOf('\nruntime:') + 1) + extra : example);
  const { plans } = await plansFrom({ inv, cluster: await loadClusterSpec(file, inv) }, new ClusterPki(path.join(dir, 'state'), inv.cluster, { inMemory: true }));
  return new Map(plans.map((p) => [p.node, p]));
}

const kinds = (p: Plan) => p.tasks.map((t) => `${t.id}:${Object.keys(t).find((k) => !['id', 'notify', 'keepWhenRemoved'].includes(k) && t[k as keyof typeof t] !== undefined)}`);

const NODE = [
  'kernel-modules:kernelModule',
  'kernel-sysctl:sysctl',
  'swap-off:swap',
  'containerd-package:package',
  'containerd-config:file',
  'containerd-service:service',
  'crictl-config:file',
  'kubelet-package:package',
  'kubelet-client-cert:certificate',
  'kubelet-serving-cert:certificate',
  'kubelet-kubeconfig:file',
  'kubelet-config:file',
  'kubelet-dropin:file',
  'kubelet-service:service',
];

test('plan: a worker gets the kernel prerequisites, containerd and the kubelet, in that order, with restart handlers', async () => {
  const w1 = (await plansFor()).get('w1')!;
  assert.deepEqual(kinds(w1), NODE);
  const t = (id: string) => w1.tasks.find((x) => x.id === id)!;
  assert.deepEqual(t('kernel-modules').kernelModule!.names, ['overlay', 'br_netfilter']);
  assert.deepEqual(t('kernel-sysctl').sysctl!.settings, { 'net.bridge.bridge-nf-call-iptables': '1', 'net.bridge.bridge-nf-call-ip6tables': '1', 'net.ipv4.ip_forward': '1' });
  assert.deepEqual(t('containerd-config').file!.check?.command, ['containerd', '--config', '{}', 'config', 'dump']);
  assert.deepEqual(t('containerd-config').notify, ['restart-containerd']);
  // No repository in the example: the kubelet comes from the node's own apt sources, pinned and held.
  assert.deepEqual([t('kubelet-package').package!.name, t('kubelet-package').package!.version, t('kubelet-package').package!.hold, t('kubelet-package').package!.aptSource], ['kubelet', '1.31.2-1.1', true, '']);
  for (const id of ['kubelet-serving-cert', 'kubelet-config', 'kubelet-dropin', 'kubelet-kubeconfig']) assert.deepEqual(t(id).notify, ['restart-kubelet'], id);
  assert.deepEqual(w1.handlers.map((h) => [h.id, h.command.join(' ')]), [['restart-containerd', 'systemctl restart containerd'], ['restart-kubelet', 'systemctl restart kubelet']]);
  assert.equal(w1.keepRemoved, undefined);
});

test('plan: lb nodes install, check and run their load balancer and keepalived; control-plane nodes get the addons and the addon manager', async () => {
  const plans = await plansFor();
  assert.deepEqual(kinds(plans.get('lb1')!).slice(NODE.length), [
    'lb-package:package',
    'lb-config:file',
    'lb-service:service',
    'keepalived-package:package',
    'keepalived-check-script:file',
    'keepalived-config:file',
    'keepalived-service:service',
  ]);
  const lbConfig = plans.get('lb1')!.tasks.find((t) => t.id === 'lb-config')!.file!;
  assert.deepEqual([lbConfig.path, lbConfig.check?.command], ['/etc/haproxy/haproxy.cfg', ['haproxy', '-c', '-f', '{}']]);
  const m1 = kinds(plans.get('m1')!);
  assert.deepEqual(m1.slice(0, NODE.length), NODE);
  assert.deepEqual(m1.slice(-5), ['dns-addon:file', 'kube-proxy-addon:file', 'cni-addon:file', 'addon-manager-kubeconfig:file', 'addon-manager-manifest:staticPod']);
  const none = await plansFor('cni: { plugin: none }\n');
  assert.ok(!none.get('m1')!.tasks.some((t) => t.id === 'cni-addon'));
});

test('plan: a named Kubernetes repository becomes an apt source with its key, and the kubelet package is refreshed from it', async () => {
  await fs.writeFile(path.join(dir, 'k8s.asc'), KEY);
  const w1 = (await plansFor(`kubelet:\n  repository: { url: "https://pkgs.k8s.io/core:/stable:/v1.31/deb/", keyFile: k8s.asc }\n  packageVersion: 1.31.2-1.2\n`)).get('w1')!;
  const src = w1.tasks.find((t) => t.id === 'kubernetes-apt-source')!.aptSource!;
  assert.deepEqual([src.name, src.uris, src.suites, Buffer.from(src.key).toString()], ['kubernetes', ['https://pkgs.k8s.io/core:/stable:/v1.31/deb/'], ['/'], KEY]);
  const kubelet = w1.tasks.find((t) => t.id === 'kubelet-package')!.package!;
  assert.deepEqual([kubelet.version, kubelet.aptSource], ['1.31.2-1.2', '/etc/apt/sources.list.d/kubernetes.sources']);
  assert.ok(w1.tasks.findIndex((t) => t.id === 'kubernetes-apt-source') < w1.tasks.findIndex((t) => t.id === 'kubelet-package'));
});

test('plan: prune: false keeps what leaves the plan; system.manage: false writes only the config files', async () => {
  const kept = await plansFor('prune: false\n');
  assert.ok([...kept.values()].every((p) => p.keepRemoved === true));
  const files = (await plansFor('system: { manage: false }\n')).get('w1')!;
  assert.ok(files.tasks.every((t) => t.file || t.certificate), 'only files and certificates');
  assert.equal(files.tasks.find((t) => t.id === 'containerd-config')!.file!.check, undefined);
});

async function specError(yaml: string): Promise<string> {
  try {
    await plansFor(yaml);
  } catch (err) {
    assert.ok(err instanceof SpecError, String(err));
    return err.message;
  }
  return assert.fail('expected a SpecError');
}

test('plan: a VIP on an unusable network is reported at api.vip with its line', async () => {
  const spec = (await fs.readFile(path.join(ex, 'cluster.yaml'), 'utf8')).replace('vip: 10.0.0.100', 'vip: 127.0.0.100');
  const line = spec.split('\n').findIndex((l) => l.includes('vip: 127.0.0.100')) + 1;
  const file = path.join(dir, 'bad-vip.yaml');
  await fs.writeFile(file, spec);
  const err = await loadClusterSpec(file, inv)
    .then((s) => plansFrom({ inv, cluster: s }, new ClusterPki(path.join(dir, 'state'), inv.cluster, { inMemory: true })))
    .catch((e: unknown) => e);
  assert.ok(err instanceof SpecError, String(err));
  assert.match(err.message, new RegExp(`bad-vip\\.yaml:${line}:\\d+: api\\.vip: vip 127\\.0\\.0\\.100 is not usable on a network`));
});

test('plan: a repository key that cannot be read or is not an OpenPGP key is named with its field', async () => {
  assert.match(await specError('kubelet: { repository: { url: "https://pkgs.k8s.io/x/", keyFile: missing.asc } }\n'), /kubelet\.repository\.keyFile: .*missing\.asc cannot be read/);
  await fs.writeFile(path.join(dir, 'not-a-key.asc'), 'hello\n');
  assert.match(await specError('kubelet: { repository: { url: "https://pkgs.k8s.io/x/", keyFile: not-a-key.asc } }\n'), /kubelet\.repository\.keyFile: .*not an OpenPGP public key/);
});

test('plan: with nginx the lb node installs, checks and runs nginx; nothing of haproxy is left in the plan, so the agent stops and removes it', async () => {
  const lb1 = (await plansFor('', (s) => s.replace('kind: haproxy', 'kind: nginx'))).get('lb1')!;
  const t = (id: string) => lb1.tasks.find((x) => x.id === id)!;
  assert.deepEqual([t('lb-package').package!.name, t('lb-service').service!.name, t('lb-config').file!.path, t('lb-config').file!.check?.command[0]], ['nginx', 'nginx', '/etc/nginx/nginx.conf', 'nginx']);
  assert.doesNotMatch(JSON.stringify(lb1.tasks.map((x) => ({ ...x, file: x.file && { path: x.file.path } }))), /haproxy/);
  assert.deepEqual(lb1.handlers.find((h) => h.id === 'reload-lb')!.command, ['systemctl', 'reload-or-restart', 'nginx']);
});

test("plan: pki.layout kubeadm puts the control plane's files where kubeadm keeps them, never a CA key, and the manifests point there", async () => {
  const m1 = (await plansFor('pki: { layout: kubeadm }\n')).get('m1')!;
  const paths = m1.tasks.flatMap((t) => [t.file?.path, t.certificate?.certPath, t.certificate?.keyPath, t.certificate?.caPath].filter((p): p is string => !!p));
  assert.equal(new Set(paths).size, paths.length, 'no path is written by two tasks');
  const pki = paths.filter((p) => p.startsWith('/etc/kubernetes/pki/')).sort();
  assert.deepEqual(pki, [
    'apiserver-etcd-client.crt', 'apiserver-etcd-client.key', 'apiserver-kubelet-client.crt', 'apiserver-kubelet-client.key', 'apiserver.crt', 'apiserver.key', 'ca.crt',
    'etcd/ca.crt', 'etcd/healthcheck-client.crt', 'etcd/healthcheck-client.key', 'etcd/peer.crt', 'etcd/peer.key', 'etcd/server.crt', 'etcd/server.key',
    'front-proxy-ca.crt', 'front-proxy-client.crt', 'front-proxy-client.key', 'kubecfg.crt', 'kubecfg.key', 'sa.key', 'sa.pub',
  ].map((f) => `/etc/kubernetes/pki/${f}`));
  for (const conf of ['admin.conf', 'controller-manager.conf', 'scheduler.conf']) assert.ok(paths.includes(`/etc/kubernetes/${conf}`), conf);
  assert.ok(!paths.some((p) => p.startsWith('/srv/kubernetes') || /ca\.key$/.test(p)), 'nothing in /srv/kubernetes, no CA key');
  const manifest = (name: string) => m1.tasks.find((t) => t.staticPod?.name === name)!.staticPod!.manifest;
  assert.match(manifest('kube-apiserver'), /--tls-cert-file=\/etc\/kubernetes\/pki\/apiserver\.crt/);
  assert.match(manifest('kube-scheduler'), /--kubeconfig=\/etc\/kubernetes\/scheduler\.conf/);
  assert.match(manifest('kube-addon-manager'), /--kubeconfig=\/etc\/kubernetes\/addon-manager\.conf/);
  // The seed's layout stays the default.
  const seed = (await plansFor()).get('m1')!;
  assert.ok(seed.tasks.some((t) => t.certificate?.certPath === '/srv/kubernetes/server.cert'));
  assert.ok(!seed.tasks.some((t) => t.id === 'admin-kubeconfig'));
});
