import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadClusterSpec } from '../../inputs/cluster.js';
import { loadInventory } from '../../inputs/inventory.js';
import { buildModel, inflightFor } from './build-model.js';

const ex = new URL('../../../examples/ha-cluster/', import.meta.url).pathname;

test('model: --max-requests-inflight grows with the cluster, 400 for the seed\'s small clusters', () => {
  assert.deepEqual(inflightFor(10), { read: 400, mutating: 200 });
  assert.deepEqual(inflightFor(300), { read: 800, mutating: 400 });
  assert.deepEqual(inflightFor(1000), { read: 1600, mutating: 800 });
  assert.deepEqual(inflightFor(5000), { read: 3000, mutating: 1000 });
});

test('model: the example resolves members, addresses, images and DNS from the inventory and spec', async () => {
  const inv = await loadInventory(path.join(ex, 'inventory.yaml'));
  const m = buildModel(inv, await loadClusterSpec(path.join(ex, 'cluster.yaml'), inv));
  assert.deepEqual(m.etcd.members.map((e) => e.peerURL), ['https://10.0.0.11:2380', 'https://10.0.0.12:2380', 'https://10.0.0.13:2380']);
  assert.deepEqual(m.etcd.bootstrap, { kind: 'static', initialCluster: 'm1=https://10.0.0.11:2380,m2=https://10.0.0.12:2380,m3=https://10.0.0.13:2380' });
  assert.equal(m.network.firstServiceIP, '10.96.0.1');
  assert.equal(m.network.dnsServiceIP, '10.96.0.10');
  assert.equal(m.images.apiserver, 'registry.k8s.io/kube-apiserver:v1.31.2');
  assert.equal(m.images.etcd, 'registry.k8s.io/etcd:3.5.15-0');
  assert.equal(m.api.maxRequestsInflight, 400);
  assert.deepEqual([m.controlPlane.length, m.lbNodes.length, m.workers.length, m.nodeCount], [3, 2, 5, 10]);
  assert.equal(m.dns.cacheSize, 10000);
});

test('model: explicit values win; discovery replaces the static initial cluster; old versions get old images', async () => {
  const inv = await loadInventory(path.join(ex, 'inventory.yaml'));
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-model-'));
  const file = path.join(dir, 'c.yaml');
  await fs.writeFile(file, `kubernetes: { version: v1.18.20, images: { etcd: my.registry/etcd:3.4.99 } }\napi: { vip: 10.0.0.100, maxRequestsInflight: 1234 }\netcd: { discovery: "http://10.0.0.5:2381/abc" }\ndns: { replicas: 9 }\n`);
  const m = buildModel(inv, await loadClusterSpec(file, inv));
  await fs.rm(dir, { recursive: true, force: true });
  assert.equal(m.api.maxRequestsInflight, 1234);
  assert.deepEqual(m.etcd.bootstrap, { kind: 'discovery', url: 'http://10.0.0.5:2381/abc' });
  assert.equal(m.images.etcd, 'my.registry/etcd:3.4.99');
  assert.equal(m.images.coredns, 'registry.k8s.io/coredns:1.7.0');
  assert.equal(m.dns.replicas, 9);
});
