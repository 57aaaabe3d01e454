import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SpecError } from '../../common/yaml-load.js';
import { renderTaskFile } from '../render/task-file.js';
import { loadInventory } from './inventory.js';
import { loadTaskFile } from './task-file.js';

test('task file: prune: false keeps what leaves the plan (keep_removed); the default removes it; a non-boolean is named', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-tasks-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const inventory = path.join(dir, 'inventory.yaml');
  await fs.writeFile(inventory, 'cluster: t\nnodes:\n  - { name: n1, address: 127.0.0.1, roles: [worker] }\n');
  const inv = await loadInventory(inventory);
  const task = 'tasks:\n  - id: motd\n    file: { path: /etc/muster/managed/motd, content: hi }\n';
  const load = async (head: string) => {
    const file = path.join(dir, `tasks-${Math.random().toString(36).slice(2)}.yaml`);
    await fs.writeFile(file, head + task);
    return loadTaskFile(file);
  };
  assert.equal(renderTaskFile(inv, await load('')).drafts[0].keepRemoved, undefined);
  assert.equal(renderTaskFile(inv, await load('prune: false\n')).drafts[0].keepRemoved, true);
  const err = await load('prune: "no"\n').catch((e: unknown) => e);
  assert.ok(err instanceof SpecError);
  assert.match(err.message, /:1:\d+: prune: /);
});
