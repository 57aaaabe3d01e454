import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadInventory } from '../inputs/inventory.js';
import { loadTaskFile } from '../inputs/task-file.js';
import { renderTaskFile } from './task-file.js';

async function files(t: { after(fn: () => Promise<void>): void }, tasks: string) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-tf-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.writeFile(path.join(dir, 'inventory.yaml'), 'nodes:\n  - { name: w1, address: 10.0.0.1, roles: [worker] }\n  - { name: w2, address: 10.0.0.2, roles: [worker] }\n');
  await fs.writeFile(path.join(dir, 'tasks.yaml'), tasks);
  return { inv: await loadInventory(path.join(dir, 'inventory.yaml')), tasks: path.join(dir, 'tasks.yaml') };
}

test('task file probes: every node gets them, placeholders filled, defaults in milliseconds', async (t) => {
  const { inv, tasks } = await files(t, 'probes:\n  - name: kubelet\n    http: { url: "http://${NODE_IP}:10248/healthz", insecure: true }\ntasks:\n  - id: a\n    file: { path: /etc/kubernetes/a, content: x }\n');
  const r = renderTaskFile(inv, await loadTaskFile(tasks));
  assert.deepEqual(r.drafts.map((d) => d.probes.map((p) => [p.name, p.http?.url, p.http?.insecure, p.intervalMs, p.timeoutMs])), [
    [['kubelet', 'http://10.0.0.1:10248/healthz', true, 10_000, 2_000]],
    [['kubelet', 'http://10.0.0.2:10248/healthz', true, 10_000, 2_000]],
  ]);
});

test('task file probes: a bad probe is named with file, line and field', async (t) => {
  const { tasks } = await files(t, 'probes:\n  - name: Kubelet\n    http: { url: "http://x" }\ntasks:\n  - id: a\n    file: { path: /etc/kubernetes/a, content: x }\n');
  await assert.rejects(loadTaskFile(tasks), (err: Error) => {
    assert.match(err.message, new RegExp(`${tasks}:2:\\d+: probes\\[0\\]\\.name: must be lower-case`));
    return true;
  });
});
