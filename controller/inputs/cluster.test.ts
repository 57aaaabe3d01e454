import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SpecError } from '../../common/yaml-load.js';
import { loadClusterSpec } from './cluster.js';
import { loadInventory } from './inventory.js';

const examples = new URL('../../examples/ha-cluster/', import.meta.url).pathname;

async function specError(yaml: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-spec-'));
  try {
    const file = path.join(dir, 'cluster.yaml');
    await fs.writeFile(file, yaml);
    await loadClusterSpec(file, await loadInventory(path.join(examples, 'inventory.yaml')));
  } catch (err) {
    assert.ok(err instanceof SpecError, String(err));
    return err.message.replaceAll(dir + '/', '');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
  assert.fail('expected a SpecError');
}

test('cluster spec: the example loads with its defaults', async () => {
  const inv = await loadInventory(path.join(examples, 'inventory.yaml'));
  const spec = await loadClusterSpec(path.join(examples, 'cluster.yaml'), inv);
  assert.equal(spec.value.kubernetes.version, 'v1.31.2');
  assert.equal(spec.value.network.podCIDR, '10.244.0.0/16');
  assert.equal(spec.value.loadBalancer.kind, 'haproxy');
  assert.equal(spec.value.dns.cacheSize, 10000);
});

test('cluster spec: basic auth on Kubernetes 1.19 or later is refused, saying why', async () => {
  const msg = await specError(`kubernetes: { version: v1.31.2 }\napi: { vip: 10.0.0.100 }\nauthentication:\n  basicAuth:\n    - { password: s3cretpassword, user: admin, uid: "1" }\n`);
  assert.match(msg, /^cluster\.yaml:5:5: authentication\.basicAuth: basic authentication \(--basic-auth-file\) was removed in Kubernetes 1\.19; v1\.31\.2 refuses it/);
});

test('cluster spec: basic auth is accepted for 1.18', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-spec-'));
  const file = path.join(dir, 'cluster.yaml');
  await fs.writeFile(file, `kubernetes: { version: v1.18.20 }\napi: { vip: 10.0.0.100 }\nauthentication:\n  basicAuth:\n    - { password: s3cretpassword, user: admin, uid: "1" }\n`);
  const spec = await loadClusterSpec(file, await loadInventory(path.join(examples, 'inventory.yaml')));
  assert.equal(spec.value.authentication.basicAuth.length, 1);
  await fs.rm(dir, { recursive: true, force: true });
});

test('cluster spec: field errors name file, line and field, all at once', async () => {
  const msg = await specError(`kubernetes: { version: "1.31" }\napi:\n  vip: 10.0.0.300\nnetwork:\n  podCIDR: 10.96.0.0/16\n`);
  assert.match(msg, /cluster\.yaml:1:24: kubernetes\.version: must be a version such as v1\.31\.2/);
  assert.match(msg, /cluster\.yaml:3:8: api\.vip: must be an IPv4 address/);
});

test('cluster spec: overlapping ranges and a VIP that is a node address are refused', async () => {
  const msg = await specError(`kubernetes: { version: v1.31.2 }\napi: { vip: 10.0.0.11 }\nnetwork: { podCIDR: 10.96.0.0/16 }\n`);
  assert.match(msg, /api\.vip: the VIP 10\.0\.0\.11 is also a node's address/);
  assert.match(msg, /network\.podCIDR: overlaps serviceCIDR 10\.96\.0\.0\/12/);
});

test('cluster spec: a missing template file is named', async () => {
  const msg = await specError(`kubernetes: { version: v1.31.2 }\napi: { vip: 10.0.0.100 }\ntemplates: { etcd: nope/etcd.yaml }\n`);
  assert.match(msg, /templates\.etcd: .*nope\/etcd\.yaml cannot be read/);
});
