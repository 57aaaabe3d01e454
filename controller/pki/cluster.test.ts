import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { buildModel } from '../render/cluster/build-model.js';
import { loadClusterSpec } from '../inputs/cluster.js';
import { loadInventory } from '../inputs/inventory.js';
import { inspectCertificate } from './certs.js';
import { ClusterPki, clusterRequests } from './cluster.js';
import type { ClusterModel } from '../render/cluster/model.js';

// The PKI step for every certificate of the cluster, by name.
async function ensureClusterCredentials(pki: ClusterPki, m: ClusterModel, extraSANs: string[] = []) {
  const certificates = clusterRequests(m, extraSANs);
  const { material } = await pki.resolve({ certificates, serviceAccountKey: false });
  return new Map(certificates.map((r) => [r.name, material.cert(r.name)]));
}

const ex = new URL('../../examples/ha-cluster/', import.meta.url).pathname;

async function example() {
  const inv = await loadInventory(path.join(ex, 'inventory.yaml'));
  const spec = await loadClusterSpec(path.join(ex, 'cluster.yaml'), inv);
  return { inv, spec, model: buildModel(inv, spec) };
}

test('cluster pki: the API server certificate carries every SAN the cluster needs', async () => {
  const { model, spec } = await example();
  const api = clusterRequests(model, spec.value.api.extraSANs).find((r) => r.name === 'apiserver')!.request;
  for (const name of ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'm1', 'm1.ha.example', 'm3.ha.example', 'lb1', 'api.ha.example']) {
    assert.ok(api.dnsNames!.includes(name), name);
  }
  for (const ip of ['10.0.0.11', '10.0.0.12', '10.0.0.13', '10.0.0.100', '10.96.0.1', '10.0.0.21']) assert.ok(api.ipAddresses!.includes(ip), ip);
  assert.deepEqual(api.usages, ['server']);
});

test('cluster pki: etcd certificates come from their own CA; kubelets are system:node:<name> in system:nodes', async () => {
  const { model } = await example();
  const reqs = clusterRequests(model);
  assert.ok(reqs.filter((r) => r.name.startsWith('etcd')).every((r) => r.ca === 'etcd-ca'));
  assert.equal(reqs.find((r) => r.name === 'apiserver-etcd-client')!.ca, 'etcd-ca');
  const kubelet = reqs.find((r) => r.name === 'kubelet/w3')!.request;
  assert.equal(kubelet.commonName, 'system:node:w3');
  assert.deepEqual(kubelet.organizations, ['system:nodes']);
  assert.equal(reqs.filter((r) => r.name.startsWith('kubelet/')).length, 10);
});

test('cluster pki: every kubelet gets a serving certificate for its name, hostname and IP; admin and the addon manager are system:masters', async () => {
  const { model } = await example();
  const reqs = clusterRequests(model);
  const serving = reqs.find((r) => r.name === 'kubelet-serving/m2')!;
  assert.equal(serving.ca, 'ca');
  assert.deepEqual(serving.request, { commonName: 'system:node:m2', organizations: ['system:nodes'], dnsNames: ['m2', 'm2.ha.example'], ipAddresses: ['10.0.0.12'], usages: ['server'] });
  assert.deepEqual(reqs.find((r) => r.name === 'kubelet-serving/w1')!.request.dnsNames, ['w1']);
  assert.equal(reqs.filter((r) => r.name.startsWith('kubelet-serving/')).length, 10);
  for (const [name, cn] of [['admin', 'kubernetes-admin'], ['addon-manager', 'system:addon-manager']]) {
    const r = reqs.find((x) => x.name === name)!.request;
    assert.equal(r.commonName, cn);
    assert.deepEqual(r.organizations, ['system:masters']);
    assert.deepEqual(r.usages, ['client']);
  }
});

test('cluster pki: re-running keeps everything; a new SAN re-issues that certificate only; renew --within', async (t) => {
  const state = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-pki-'));
  t.after(() => fs.rm(state, { recursive: true, force: true }));
  const { model } = await example();
  const pki = new ClusterPki(state, 'ha');
  const serials = async (m: Map<string, { certPem: string }>) => new Map([...m].map(([k, v]) => [k, inspectCertificate(v.certPem).serial]));
  const first = await serials(await ensureClusterCredentials(pki, model));
  const again = await serials(await ensureClusterCredentials(new ClusterPki(state, 'ha'), model));
  assert.deepEqual(again, first, 're-running keeps every certificate');

  const withSan = await serials(await ensureClusterCredentials(new ClusterPki(state, 'ha'), model, ['api2.ha.example']));
  const changed = [...withSan].filter(([k, v]) => first.get(k) !== v).map(([k]) => k);
  assert.deepEqual(changed, ['apiserver']);

  const keyMode = (await fs.stat(path.join(state, 'pki/cluster/kubecfg.key'))).mode & 0o777;
  assert.equal(keyMode, 0o600);

  assert.deepEqual(await pki.renew(30), [], 'nothing expires within 30 days');
  const in400 = await pki.renew(400);
  assert.ok(in400.includes('apiserver') && in400.includes('kubelet/w1') && !in400.includes('ca') && !in400.includes('etcd-ca'));
  const after = await serials(await ensureClusterCredentials(new ClusterPki(state, 'ha'), model, ['api2.ha.example']));
  assert.notEqual(after.get('kubecfg'), withSan.get('kubecfg'), 'renewed');
  const list = await pki.list();
  assert.ok(list.every((c) => c.info.daysLeft >= 364));
});

test('cluster pki: in memory, the PKI step reads the state folder and writes nothing; what it made is named', async (t) => {
  const state = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-pki-'));
  t.after(() => fs.rm(state, { recursive: true, force: true }));
  const { model } = await example();
  const needs = { certificates: clusterRequests(model), serviceAccountKey: true };
  const dry = await new ClusterPki(state, 'ha', { inMemory: true }).resolve(needs);
  assert.deepEqual(await fs.readdir(state), [], 'nothing written');
  assert.ok(dry.issued.includes('ca') && dry.issued.includes('etcd-ca') && dry.issued.includes('apiserver') && dry.issued.includes('sa'));
  assert.equal(dry.issued.length, needs.certificates.length + 4); // and ca, etcd-ca, front-proxy-ca, sa
  // The in-memory leaf chains to the in-memory CA it made.
  assert.ok(new X509Certificate(dry.material.cert('apiserver').certPem).verify(new X509Certificate(dry.material.caPem('ca')).publicKey));

  const kept = await new ClusterPki(state, 'ha').resolve(needs);
  assert.equal(kept.issued.length, needs.certificates.length + 4, 'persisted: everything issued once');
  const again = await new ClusterPki(state, 'ha', { inMemory: true }).resolve(needs);
  assert.deepEqual(again.issued, [], 'once stored, the in-memory step only loads');
  assert.equal(again.material.cert('kubelet/w1').certPem, kept.material.cert('kubelet/w1').certPem);
  assert.equal(again.material.serviceAccount().keyPem, kept.material.serviceAccount().keyPem);
  assert.throws(() => again.material.cert('nope'), /certificate nope was not requested/);
});

test('cluster pki: a CA made again (same name, new key) re-issues every certificate; the same CA re-issues none', async () => {
  const { model } = await example();
  const state = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-pki-ca-'));
  try {
    const certificates = clusterRequests(model);
    const first = await new ClusterPki(state, 'ha').resolve({ certificates, serviceAccountKey: false });
    assert.equal(first.issued.length, certificates.length + 3, 'three CAs and every certificate');
    assert.deepEqual((await new ClusterPki(state, 'ha').resolve({ certificates, serviceAccountKey: false })).issued, []);
    for (const ext of ['crt', 'key']) await fs.rm(path.join(state, 'pki', 'cluster', `ca.${ext}`));
    const again = await new ClusterPki(state, 'ha').resolve({ certificates, serviceAccountKey: false });
    const fromCa = certificates.filter((r) => r.ca === 'ca').map((r) => r.name);
    assert.deepEqual(again.issued, ['ca', ...fromCa]);
    const caPem = again.material.caPem('ca');
    assert.ok(fromCa.every((n) => new X509Certificate(again.material.cert(n).certPem).verify(new X509Certificate(caPem).publicKey)), 'signed by the new CA');
  } finally {
    await fs.rm(state, { recursive: true, force: true });
  }
});
