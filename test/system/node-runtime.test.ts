// The node runtime files, read by the real programs: containerd (Debian's package) parses the
// generated config.toml and shows the settings the kubelet depends on in its effective config,
// and the agent runs the same parse as the file's check before the HA example's config goes live.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { exampleRuntime } from '../../controller/render/cluster/node/fixtures.js';
import { renderContainerdConfig } from '../../controller/render/cluster/node/runtime.js';
import { plansFrom } from '../../controller/app/plan-set.js';
import { loadClusterSpec } from '../../controller/inputs/cluster.js';
import { loadInventory } from '../../controller/inputs/inventory.js';
import { ClusterPki } from '../../controller/pki/cluster.js';
import { ApplyMode, TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { repoRoot } from '../helpers/fleet.js';
import { CLUSTER_NODE_TREES, tempHost } from '../helpers/host.js';
import { findBinary } from './helpers/etcd.js';

/** The body of one TOML table in containerd's dump, up to the next table header. */
function table(dump: string, header: string): string {
  const start = dump.indexOf(`${header}\n`);
  assert.ok(start >= 0, `containerd's effective config has ${header}`);
  const rest = dump.slice(start + header.length + 1);
  const next = rest.search(/^\s*\[/m);
  return next < 0 ? rest : rest.slice(0, next);
}

describe('containerd reads the generated config.toml', () => {
  it('effective config: systemd cgroups for runc, the sandbox image, the socket', async () => {
    const containerd = findBinary('containerd');
    assert.ok(containerd, 'containerd is installed (test/system/install-packages.sh)');
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-containerd-'));
    try {
      const file = path.join(dir, 'config.toml');
      await fs.writeFile(file, renderContainerdConfig(exampleRuntime()));
      const r = spawnSync(containerd, ['--config', file, 'config', 'dump'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const cri = 'plugins."io.containerd.grpc.v1.cri"';
      assert.match(table(r.stdout, `  [${cri}.containerd.runtimes.runc.options]`), /SystemdCgroup = true/);
      assert.match(table(r.stdout, `  [${cri}.containerd.runtimes.runc]`), /runtime_type = "io.containerd.runc.v2"/);
      assert.match(table(r.stdout, `  [${cri}]`), /sandbox_image = "registry.k8s.io\/pause:3.10"/);
      assert.match(table(r.stdout, '[grpc]'), /address = "\/run\/containerd\/containerd.sock"/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
  it('a config containerd cannot parse fails loudly (the check the agent runs before a restart)', async () => {
    const containerd = findBinary('containerd')!;
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-containerd-'));
    try {
      const file = path.join(dir, 'config.toml');
      await fs.writeFile(file, renderContainerdConfig(exampleRuntime()).replace('SystemdCgroup = true', 'SystemdCgroup = [true'));
      const r = spawnSync(containerd, ['--config', file, 'config', 'dump'], { encoding: 'utf8' });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /failed to load TOML/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the HA example plan checks containerd\'s config with the real containerd before it goes live', () => {
  it('the planned config passes the agent\'s check and lands; a corrupted copy never replaces it', async () => {
    const containerd = findBinary('containerd');
    assert.ok(containerd, 'containerd is installed (test/system/install-packages.sh)');
    const ex = path.join(repoRoot, 'examples/ha-cluster');
    const inv = await loadInventory(path.join(ex, 'inventory.yaml'));
    const state = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-runtime-state-'));
    const h = await tempHost({ allowedTrees: CLUSTER_NODE_TREES });
    const saved = process.env.PATH;
    process.env.PATH = `${path.dirname(containerd)}:${saved}`;
    try {
      // The real example (system.manage: true), as a worker gets it.
      const { plans } = await plansFrom({ inv, cluster: await loadClusterSpec(path.join(ex, 'cluster.yaml'), inv) }, new ClusterPki(state, inv.cluster, { inMemory: true }));
      const task = plans.find((p) => p.node === 'w1')!.tasks.find((t) => t.id === 'containerd-config')!;
      assert.deepEqual(task.file!.check?.command, ['containerd', '--config', '{}', 'config', 'dump']);
      const handlers = [{ id: 'restart-containerd', command: ['true'], timeoutMs: 5000 }];
      const [ok] = (await h.run([task], ApplyMode.APPLY_MODE_APPLY, handlers)).results;
      assert.equal(ok.status, TaskStatus.TASK_STATUS_CHANGED, ok.errorMessage);
      const live = await fs.readFile(h.real('/etc/containerd/config.toml'), 'utf8');
      assert.match(live, /SystemdCgroup = true/);
      const broken = { ...task, file: { ...task.file!, content: Buffer.from(live.replace('SystemdCgroup = true', 'SystemdCgroup = [true')) } };
      const [bad] = (await h.run([broken], ApplyMode.APPLY_MODE_APPLY, handlers)).results;
      assert.equal(bad.status, TaskStatus.TASK_STATUS_FAILED);
      assert.equal(await fs.readFile(h.real('/etc/containerd/config.toml'), 'utf8'), live, 'the old config stays');
    } finally {
      process.env.PATH = saved;
      await h.cleanup();
      await fs.rm(state, { recursive: true, force: true });
    }
  });
});
