import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { SpecError, loadYaml } from './yaml-load.js';

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
