import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { RESTART_FOR_ANNOTATION } from '../../common/manifest-hash.js';
import { buildPlanSet } from '../../controller/app/plan-set.js';
import { ClusterPki } from '../../controller/pki/cluster.js';
import { planWaves } from '../../controller/rollout/waves.js';
import type { Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import { repoRoot } from '../helpers/fleet.js';

const example = path.join(repoRoot, 'examples/ha-cluster/local');
const pods = (p: Plan) => new Map(p.tasks.filter((t) => t.staticPod).map((t) => [t.staticPod!.name, t.staticPod!.manifest]));
const annotations = (manifest: string) => (parse(manifest) as { metadata: { annotations?: Record<string, string> } }).metadata.annotations ?? {};
const without = (manifest: string) => manifest.split('\n').filter((l) => !l.includes(`${RESTART_FOR_ANNOTATION}:`)).join('\n');

test('restart-for: after certs renew the etcd and control-plane manifests differ only by their restart annotation, and a rollout restarts the members one at a time', async (t) => {
  const state = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-restart-for-'));
  t.after(() => fs.rm(state, { recursive: true, force: true }));
  const build = async () => (await buildPlanSet({ inventory: path.join(example, 'inventory.yaml'), cluster: path.join(example, 'cluster.yaml'), state, persist: true })).plans;
  const before = await build();
  const again = await build();
  assert.deepEqual(again.map((p) => p.revision), before.map((p) => p.revision), 'nothing renewed: the same plans');
  const renewed = await new ClusterPki(state, 'ha').renew();
  assert.ok(renewed.includes('etcd/m1/server'), renewed.join(', '));
  const after = await build();
  for (const m of ['m1', 'm2', 'm3']) {
    const [old, now] = [before, after].map((ps) => pods(ps.find((p) => p.node === m)!));
    for (const pod of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
      assert.match(annotations(old.get(pod)!)[RESTART_FOR_ANNOTATION], /^[0-9a-f]{64}$/, `${m} ${pod} carries the annotation`);
      assert.notEqual(annotations(now.get(pod)!)[RESTART_FOR_ANNOTATION], annotations(old.get(pod)!)[RESTART_FOR_ANNOTATION], `${m} ${pod}: renewed files change it`);
      assert.equal(without(now.get(pod)!), without(old.get(pod)!), `${m} ${pod}: nothing else in the manifest changed`);
    }
  }
  // The rollout after the renewal: every etcd member changed, each in a wave of its own, the leader last.
  const changed = after.map((p) => ({ name: p.node, roles: [...(p.node.startsWith('m') ? ['etcd', 'control-plane'] : [])], changed: before.find((b) => b.node === p.node)!.revision !== p.revision }));
  const waves = planWaves(changed.filter((n) => n.roles.length), { etcdLeader: 'm1' }).waves.filter((w) => w.role === 'etcd');
  assert.deepEqual(waves.map((w) => w.nodes), [['m2'], ['m3'], ['m1']]);
});
