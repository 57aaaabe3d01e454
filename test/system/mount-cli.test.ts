// The operator's path for storage: a task file with mount: entries, `muster plan` and
// `muster apply` against a real musterd process, a real ext4 block device on a loop device and a
// real GlusterFS volume through FUSE, then `muster status` showing the mounts healthy.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { makeFleet, repoRoot, spawnAgents } from '../helpers/fleet.js';
import { attachLoop, detachLoopsUnder, isMounted, makeImage, requireBinaries, startGluster, unmountUnder, type Gluster } from './helpers/mount.js';

const exec = promisify(execFile);

test('cli: muster plan and apply mount a block device and a GlusterFS volume from a task file', { timeout: 180_000 }, async (t) => {
  if (!requireBinaries(t, 'glusterd', 'gluster', 'mount.glusterfs', 'losetup', 'mkfs.ext4')) return;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-mount-cli-'));
  const f = await makeFleet(1, 'st');
  const root = f.nodeRoot('st1');
  const started: { agents?: Awaited<ReturnType<typeof spawnAgents>>; gluster?: Gluster } = {};
  t.after(async () => {
    await started.agents?.stop();
    unmountUnder(root);
    await started.gluster?.stop();
    detachLoopsUnder(dir);
    await f.cleanup();
    await fs.rm(dir, { recursive: true, force: true });
  });
  const gluster = (started.gluster = await startGluster(path.join(dir, 'gluster')));
  const loop = attachLoop(await makeImage(path.join(dir, 'disk.img'), '64M'));
  started.agents = await spawnAgents(f);
  const tasks = path.join(dir, 'storage.yaml');
  await fs.writeFile(tasks, `vars:
  DISK: ${loop}
tasks:
  - id: data
    mount: { target: /srv/storage/data, block: { device: "\${DISK}" }, mkfs: true, options: [noatime] }
  - id: shared
    mount: { target: /mnt/gv0, glusterfs: { servers: [127.0.0.1], volume: gv0 } }
`);
  const muster = async (...args: string[]) => {
    try {
      return { code: 0, ...(await exec(process.execPath, [path.join(repoRoot, 'bin/muster.js'), '-s', f.state, '-i', f.inventoryFile, ...args])) };
    } catch (err) {
      return err as { code: number; stdout: string; stderr: string };
    }
  };

  const plan = await muster('plan', '-t', tasks);
  assert.equal(plan.code, 2, plan.stdout + plan.stderr);
  assert.match(plan.stdout, /~ data \(mount\) would-change/);
  assert.equal(isMounted(path.join(root, 'srv/storage/data')), undefined, 'plan mounted nothing');
  const apply = await muster('apply', '-t', tasks);
  assert.equal(apply.code, 0, apply.stdout + apply.stderr);
  assert.equal(isMounted(path.join(root, 'srv/storage/data'))?.fsType, 'ext4');
  assert.equal(isMounted(path.join(root, 'mnt/gv0'))?.fsType, 'fuse.glusterfs');
  await fs.writeFile(path.join(root, 'mnt/gv0/through-muster.txt'), 'ok\n');
  assert.equal(await fs.readFile(path.join(gluster.brick, 'through-muster.txt'), 'utf8'), 'ok\n');
  const again = await muster('plan', '-t', tasks);
  assert.equal(again.code, 0, again.stdout);

  // The agent's mounts check reports both, with their free space, in the fleet's status.
  const deadline = Date.now() + 45_000;
  for (;;) {
    const status = await muster('status', '--json');
    const node = JSON.parse(status.stdout)[0].status;
    const mounts = node.mounts ?? [];
    if (mounts.length === 2 && mounts.every((m: { mounted: boolean }) => m.mounted)) {
      assert.ok(mounts.every((m: { totalBytes: string | number }) => Number(m.totalBytes) > 0));
      assert.ok(node.probes.some((p: { name: string; state: string }) => p.name === 'mounts' && p.state === 'PROBE_STATE_HEALTHY'));
      break;
    }
    assert.ok(Date.now() < deadline, `mounts not in the status: ${JSON.stringify(mounts)}`);
    await new Promise((r) => setTimeout(r, 500));
  }

  // Absent: unmounted and the units gone, through the same path.
  await fs.writeFile(tasks, (await fs.readFile(tasks, 'utf8')).replace(/mkfs: true, options: \[noatime\] \}/, 'mkfs: true, state: absent }').replace('volume: gv0 } }', 'volume: gv0 }, state: absent }'));
  const remove = await muster('apply', '-t', tasks);
  assert.equal(remove.code, 0, remove.stdout + remove.stderr);
  assert.equal(isMounted(path.join(root, 'srv/storage/data')), undefined);
  assert.equal(isMounted(path.join(root, 'mnt/gv0')), undefined);
});
