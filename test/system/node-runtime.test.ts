// The node runtime files, read by the real programs: containerd (Debian's package) parses the
// generated config.toml and shows the settings the kubelet depends on in its effective config.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { exampleRuntime } from '../../controller/render/cluster/node/fixtures.js';
import { renderContainerdConfig } from '../../controller/render/cluster/node/runtime.js';
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
