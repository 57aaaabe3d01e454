import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { InventoryNode } from '../inputs/inventory.js';
import { selectNodes } from './limit.js';

const n = (name: string, roles: InventoryNode['roles'], labels: Record<string, string> = {}): InventoryNode => ({ name, address: '10.0.0.1', hostname: name, agentPort: 7443, roles, labels });
const nodes = [
  n('m1', ['etcd', 'control-plane'], { rack: 'a' }),
  n('m2', ['etcd', 'control-plane'], { rack: 'b' }),
  n('w1', ['worker'], { rack: 'a', zone: 'z1' }),
  n('w2', ['worker'], { rack: 'b' }),
  n('w3', ['worker'], { rack: 'a' }),
  n('lb1', ['lb']),
];
const names = (limit?: string) => selectNodes(nodes, limit).map((x) => x.name);

test('limit: names, comma lists, globs, roles and labels', () => {
  assert.deepEqual(names(), ['m1', 'm2', 'w1', 'w2', 'w3', 'lb1']);
  assert.deepEqual(names('w2'), ['w2']);
  assert.deepEqual(names('w3,m1'), ['m1', 'w3'], 'inventory order');
  assert.deepEqual(names('w*'), ['w1', 'w2', 'w3']);
  assert.deepEqual(names('role=worker'), ['w1', 'w2', 'w3']);
  assert.deepEqual(names('roles=etcd'), ['m1', 'm2']);
  assert.deepEqual(names('rack=a'), ['m1', 'w1', 'w3']);
  assert.deepEqual(names('name=lb1'), ['lb1']);
});

test('limit: & intersects, ! negates, , unites; a node is counted once', () => {
  assert.deepEqual(names('role=worker&rack=a'), ['w1', 'w3']);
  assert.deepEqual(names('role=worker&!rack=a'), ['w2']);
  assert.deepEqual(names('w*&!w3'), ['w1', 'w2']);
  assert.deepEqual(names('rack=a,role=worker'), ['m1', 'w1', 'w2', 'w3']);
  assert.deepEqual(names(' m1 , rack=b & role=worker '), ['m1', 'w2']);
});

test('limit: a term that matches nothing is an error naming it and what the inventory has', () => {
  assert.throws(() => names('w9'), (e: Error & { code?: string }) => e.code === 'LIMIT_INVALID' && /"w9" matches no node in the inventory \(nodes: m1, m2, w1, w2, w3, lb1; roles: control-plane, etcd, lb, worker; label keys: rack, zone\)/.test(e.message));
  assert.throws(() => names('role=worker,rack=z'), /"rack=z" matches no node/);
  assert.throws(() => names('role=worker&role=lb'), /"role=worker&role=lb" matches no node/);
  assert.throws(() => names('rol=worker'), /"rol=worker" matches no node/);
});

test('limit: malformed limits are refused', () => {
  for (const bad of ['', 'm1,', ',m1', 'm1&', '=worker', 'role=', 'a b', 'm1;rm']) {
    assert.throws(() => names(bad), (e: Error & { code?: string }) => e.code === 'LIMIT_INVALID', bad);
  }
});
