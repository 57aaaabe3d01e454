import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { SpecError, YAML_LIMITS, loadYaml, readYamlFile } from './yaml-load.js';

const schema = z.object({
  nodes: z.array(z.object({ name: z.string(), port: z.number().int().max(65535) }).strict()),
});

function problems(text: string) {
  try {
    loadYaml('inv.yaml', text, schema);
  } catch (err) {
    assert.ok(err instanceof SpecError);
    return err.message;
  }
  assert.fail('expected a SpecError');
}

test('yaml-load: a wrong field names the file, line and field', () => {
  assert.equal(problems('nodes:\n  - name: a\n    port: 1\n  - name: b\n    port: 99999\n'), 'inv.yaml:5:11: nodes[1].port: Too big: expected number to be <=65535');
});

test('yaml-load: a missing field points at its parent', () => {
  assert.match(problems('nodes:\n  - port: 1\n'), /^inv\.yaml:2:5: nodes\[0\]\.name: /);
});

test('yaml-load: an unknown key is named', () => {
  assert.match(problems('nodes:\n  - name: a\n    port: 1\n    prot: 2\n'), /^inv\.yaml:2:5: nodes\[0\]: Unrecognized key: "prot"/);
});

test('yaml-load: broken YAML names the line', () => {
  assert.match(problems('nodes:\n  - name: a\n   port: [\n'), /^inv\.yaml:3:/);
});

test('yaml-load: duplicate keys are refused', () => {
  assert.match(problems('nodes: []\nnodes: []\n'), /^inv\.yaml:2:1: .*[Mm]ap keys must be unique/);
});

test('yaml-load: a valid file loads', () => {
  assert.deepEqual(loadYaml('x', 'nodes:\n  - {name: a, port: 1}\n', schema).value, { nodes: [{ name: 'a', port: 1 }] });
});

test('yaml-load: an alias bomb is refused with the file named', () => {
  const bomb = 'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\nnodes: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n';
  assert.match(problems(bomb), /^inv\.yaml:1:1: .*alias/i);
});

test('yaml-load: a file past the byte cap is refused before it is read, naming the file', async (t) => {
  const fs = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-yaml-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const big = path.join(dir, 'inventory.yaml');
  await fs.writeFile(big, 'nodes:\n' + '  - {name: a, port: 1}\n'.repeat(300_000));
  await assert.rejects(readYamlFile(big), (e: unknown) => e instanceof SpecError && e.message === `${big}:1:1: is ${6_900_007} bytes; a spec file may hold at most ${4 << 20}`);
  assert.throws(() => loadYaml(big, 'nodes: []\n' + '#'.repeat(YAML_LIMITS.maxBytes), schema), /inventory\.yaml:1:1: is \d+ bytes/);
  await assert.rejects(readYamlFile(dir), /is not a regular file/);
});

test('yaml-load: node and item caps name the file (and the list\'s line)', () => {
  const many = 'nodes:\n' + '  - {name: a, port: 1}\n'.repeat(200);
  assert.throws(() => loadYaml('inv.yaml', many, schema, { maxNodes: 500 }), /^SpecError: inv\.yaml:1:1: holds more than 500 YAML nodes$/);
  assert.throws(() => loadYaml('inv.yaml', many, schema, { maxItems: { nodes: 100 } }), /^SpecError: inv\.yaml:2:3: nodes: 200 items; at most 100 are taken$/);
  assert.equal(loadYaml('inv.yaml', many, schema, { maxItems: { nodes: 200 } }).value.nodes.length, 200);
});
