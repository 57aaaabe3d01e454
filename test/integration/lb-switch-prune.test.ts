// Switching loadBalancer.kind on real nodes (system.manage: true): what the agent's pruner takes
// away from an lb node, in its order, when the plan for haproxy is followed by the one for nginx.
// The removals are computed by the agent's own Pruner; running them needs systemd and apt as
// PID 1 and root, which the system tests cover per kind.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Pruner } from '../../agent/engine/prune.js';
import { Host } from '../../agent/host/host.js';
import { plansFrom } from '../../controller/app/plan-set.js';
import { loadClusterSpec } from '../../controller/inputs/cluster.js';
import { loadInventory } from '../../controller/inputs/inventory.js';
import { ClusterPki } from '../../controller/pki/cluster.js';
import type { Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import { repoRoot } from '../helpers/fleet.js';
import { CLUSTER_NODE_TREES } from '../helpers/host.js';

test('lb kind haproxy → nginx: the agent stops and disables haproxy, then removes its config, then its package; keepalived stays', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-lb-switch-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const ex = path.join(repoRoot, 'examples/ha-cluster');
  const inv = await loadInventory(path.join(ex, 'inventory.yaml'));
  const pki = new ClusterPki(path.join(dir, 'state'), inv.cluster);
  const lb1 = async (file: string): Promise<Plan> => (await plansFrom({ inv, cluster: await loadClusterSpec(file, inv) }, pki)).plans.find((p) => p.node === 'lb1')!;
  const nginxFile = path.join(dir, 'nginx.yaml');
  await fs.writeFile(nginxFile, (await fs.readFile(path.join(ex, 'cluster.yaml'), 'utf8')).replace('kind: haproxy', 'kind: nginx'));
  const [haproxy, nginx] = [await lb1(path.join(ex, 'cluster.yaml')), await lb1(nginxFile)];

  const pruner = new Pruner(new Host({ root: dir, allowedTrees: CLUSTER_NODE_TREES, stateDir: '/var/lib/musterd' }));
  const removals = pruner.removals(haproxy, nginx).map((r) => [r.source.id, r.bound.kind, JSON.stringify(r.bound.spec)]);
  assert.deepEqual(removals.map(([id, kind]) => [id, kind]), [['lb-service', 'service'], ['lb-config', 'file'], ['lb-package', 'package']]);
  assert.match(removals[0][2], /"name":"haproxy".*"state":2/, 'haproxy stopped (and disabled)');
  assert.match(removals[1][2], /\/etc\/haproxy\/haproxy\.cfg/);
  assert.match(removals[2][2], /"name":"haproxy".*"state":2/, 'the haproxy package removed');
  assert.deepEqual(pruner.removals(haproxy, { ...nginx, keepRemoved: true }), [], 'prune: false keeps everything');
});
