import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SpecError } from '../../common/yaml-load.js';
import { loadInventory, MAX_INVENTORY_NODES } from './inventory.js';
import { loadTaskFile } from './task-file.js';

async function tmpFile(name: string, text: string, t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-limits-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, name);
  await fs.writeFile(file, text);
  return file;
}

const problem = (err: unknown) => {
  assert.ok(err instanceof SpecError, String(err));
  return err.problems[0];
};

test('inputs: an inventory with more nodes than the cap is refused, naming the file and the list', async (t) => {
  const nodes = Array.from({ length: MAX_INVENTORY_NODES + 1 }, (_, i) => `  - { name: n${i}, address: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}, roles: [worker] }`);
  const file = await tmpFile('inventory.yaml', `cluster: big\nnodes:\n${nodes.join('\n')}\n`, t);
  const p = await loadInventory(file).then(() => assert.fail('accepted'), problem);
  assert.equal(p.file, file);
  assert.equal(p.field, 'nodes');
  assert.match(p.message, new RegExp(`${MAX_INVENTORY_NODES + 1} items; at most ${MAX_INVENTORY_NODES}`));
});

test('inputs: a file over the byte cap is refused before it is parsed, naming the file', async (t) => {
  const file = await tmpFile('tasks.yaml', `tasks: []\n# ${'x'.repeat(5 * 1024 * 1024)}\n`, t);
  const p = await loadTaskFile(file).then(() => assert.fail('accepted'), problem);
  assert.equal(p.file, file);
  assert.match(p.message, /bytes; a spec file may hold at most/);
});
