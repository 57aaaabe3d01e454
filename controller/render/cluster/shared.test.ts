import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Plan } from '../../../proto/gen/muster/agent/v1/agent.js';
import { plansFrom } from '../../app/plan-set.js';
import { loadClusterSpec, type ClusterSpec } from '../../inputs/cluster.js';
import { loadInventory, type Inventory } from '../../inputs/inventory.js';
import { ClusterPki } from '../../pki/cluster.js';
import { assemblePlans } from '../render.js';
import { buildModel } from './build-model.js';
import { clusterContext } from './context.js';
import { renderCluster, renderNode } from './plan.js';

// The fast path renders what nodes share once (ClusterContext.shared) and hashes shared tasks
// once: its plans must be, byte for byte, what rendering each node on its own gives.

const ex = new URL('../../../examples/ha-cluster/', import.meta.url).pathname;
let dir: string;
let inv: Inventory;
let spec: ClusterSpec;

// Roles alone and combined, labels, hostnames, IPv4 and IPv6, names a YAML writer could misread.
const INVENTORY = `cluster: ha
nodes:
  - { name: m1, address: 10.0.0.11, hostname: m1.ha.example, roles: [etcd, control-plane], labels: { rack: a } }
  - { name: m2, address: 10.0.0.12, hostname: m2.ha.example, roles: [control-plane], labels: { rack: b } }
  - { name: m3, address: 10.0.0.13, roles: [etcd, control-plane, worker], labels: { rack: c, disk: ssd } }
  - { name: e4, address: 10.0.0.14, roles: [etcd] }
  - { name: lb1, address: 10.0.0.21, hostname: lb1.ha.example, roles: [lb] }
  - { name: lb2, address: 10.0.0.22, roles: [lb, worker], labels: { rack: b } }
  - { name: w1, address: 10.0.1.31, roles: [worker] }
  - { name: w2, address: 10.0.1.32, hostname: w2.rack-a.ha.example, roles: [worker], labels: { rack: a, disk: ssd } }
  - { name: w-3.rack-b, address: 10.0.1.33, roles: [worker], labels: { rack: b } }
  - { name: "123", address: 10.0.1.34, roles: [worker] }
  - { name: "true", address: 10.0.1.35, roles: [worker], labels: { disk: hdd } }
  - { name: w6, address: "fd00::36", roles: [worker], labels: { rack: a } }
`;

// Per-node overrides: mounts chosen by role, label and name, with the node's values in them;
// an operator's template in place of a built-in manifest; a spec variable.
const OVERRIDES = `
vars: { DATA_DIR: /srv/data }
templates: { kube-scheduler: scheduler.yaml }
storage:
  - id: data
    on: { roles: [worker] }
    mount: { target: "\${DATA_DIR}/\${NODE_NAME}", block: { device: /dev/md0 }, mkfs: true }
  - id: fast
    on: { labels: { disk: ssd } }
    mount: { target: /mnt/fast, nfs: { server: "\${NODE_IP}", export: "/export/\${NODE_HOSTNAME}" } }
  - id: one
    on: { nodes: [w1, e4] }
    mount: { target: /mnt/one, block: { device: /dev/sdb } }
`;

const SCHEDULER = `apiVersion: v1
kind: Pod
metadata: { name: kube-scheduler, namespace: kube-system }
spec:
  hostNetwork: true
  containers:
    - name: kube-scheduler
      image: \${SCHEDULER_IMAGE}
      command: [kube-scheduler, --bind-address=\${NODE_IP}, --kubeconfig=/etc/kubernetes/scheduler.conf]
`;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-shared-'));
  await fs.writeFile(path.join(dir, 'inventory.yaml'), INVENTORY);
  await fs.writeFile(path.join(dir, 'scheduler.yaml'), SCHEDULER);
  const example = await fs.readFile(path.join(ex, 'cluster.yaml'), 'utf8');
  await fs.writeFile(path.join(dir, 'cluster.yaml'), example + OVERRIDES);
  inv = await loadInventory(path.join(dir, 'inventory.yaml'));
  spec = await loadClusterSpec(path.join(dir, 'cluster.yaml'), inv);
});
after(() => fs.rm(dir, { recursive: true, force: true }));

// The revision as a plan's whole encoding hashed in one piece.
const wholeRevision = (p: Plan) => createHash('sha256').update(Plan.encode({ ...p, revision: '' }).finish()).digest('hex').slice(0, 16);

test('shared rendering: every node\'s plan equals the plan of that node rendered alone, revision included', async () => {
  const pki = new ClusterPki(path.join(dir, 'state'), inv.cluster, { inMemory: true });
  const { plans } = await plansFrom({ inv, cluster: spec }, pki);
  const rendered = renderCluster(inv, spec);
  const { material } = await pki.resolve(rendered);
  const m = buildModel(inv, spec);
  assert.equal(plans.length, inv.nodes.length);
  for (const [i, n] of inv.nodes.entries()) {
    // A context of its own: nothing shared with any other node, every task encoded afresh.
    const problems: string[] = [];
    const [alone] = assemblePlans({ ...rendered, drafts: [renderNode(clusterContext(m, spec, problems), n)] }, material);
    assert.deepEqual(problems, []);
    assert.equal(plans[i].node, n.name);
    assert.equal(Buffer.from(Plan.encode(plans[i]).finish()).toString('base64'), Buffer.from(Plan.encode(alone).finish()).toString('base64'), n.name);
    assert.equal(plans[i].revision, wholeRevision(plans[i]), `${n.name}: the revision is the hash of the whole plan`);
  }
  const ids = (node: string) => plans.find((p) => p.node === node)!.tasks.map((t) => t.id);
  // The inventory's variety reached the plans: mounts by role, label and name, the template.
  assert.deepEqual(ids('w2').filter((t) => t.startsWith('storage-')), ['storage-data', 'storage-fast']);
  assert.deepEqual(ids('e4').filter((t) => t.startsWith('storage-')), ['storage-one']);
  assert.equal(plans.find((p) => p.node === 'w6')!.tasks.find((t) => t.id === 'storage-data')!.mount!.target, '/srv/data/w6');
  const kubeconfig = (node: string) => Buffer.from(plans.find((p) => p.node === node)!.tasks.find((t) => t.id === 'kubelet-kubeconfig')!.file!.content).toString();
  assert.match(kubeconfig('true'), /^current-context: system:node:true@ha$/m);
  assert.match(kubeconfig('w-3.rack-b'), /^ {2}- name: system:node:w-3\.rack-b$/m);
  assert.match(plans.find((p) => p.node === 'm2')!.tasks.find((t) => t.id === 'kube-scheduler-manifest')!.staticPod!.manifest, /--bind-address=10\.0\.0\.12/);
});

test('shared rendering: two plans holding the same task (one object) each get the revision of their own bytes', async () => {
  const pki = new ClusterPki(path.join(dir, 'state'), inv.cluster, { inMemory: true });
  const rendered = renderCluster(inv, spec);
  const w1 = rendered.drafts.find((d) => d.node === 'w1')!;
  const w6 = rendered.drafts.find((d) => d.node === 'w6')!;
  const shared = w1.tasks.find((t) => typeof t !== 'function' && t.id === 'kubelet-config');
  assert.equal(shared, w6.tasks.find((t) => typeof t !== 'function' && t.id === 'kubelet-config'), 'the kubelet config is one task object');
  const { material } = await pki.resolve(rendered);
  const [a, b] = assemblePlans({ ...rendered, drafts: [w1, w6] }, material);
  assert.notEqual(a.revision, b.revision);
  assert.equal(a.revision, wholeRevision(a));
  assert.equal(b.revision, wholeRevision(b));
});
