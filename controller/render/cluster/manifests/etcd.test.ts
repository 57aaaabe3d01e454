import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pod } from 'kubernetes-models/v1/Pod';
import { ETCD_METRICS_PORT, renderEtcd } from './etcd.js';
import { discoveryModel, exampleModel } from './fixtures.js';
import { assertPathsMounted, onlyContainer, parsePod, podFlags } from './testing.js';

describe('renderEtcd', () => {
  const m = exampleModel();
  const [m1, m2] = m.etcd.members as [(typeof m.etcd.members)[0], (typeof m.etcd.members)[0]];

  it('is a node-critical static pod on the host network in kube-system', () => {
    const pod = parsePod(renderEtcd(m, m1));
    assert.equal(pod.metadata?.name, 'etcd');
    assert.equal(pod.metadata?.namespace, 'kube-system');
    assert.deepEqual(pod.metadata?.labels, { component: 'etcd', tier: 'control-plane' });
    assert.equal(pod.spec?.hostNetwork, true);
    assert.equal(pod.spec?.priorityClassName, 'system-node-critical');
    assert.deepEqual(pod.spec?.securityContext?.seccompProfile, { type: 'RuntimeDefault' });
    const c = onlyContainer(pod);
    assert.equal(c.image, m.images.etcd);
    assert.equal(c.command?.[0], 'etcd');
    assert.deepEqual(c.resources?.requests, { cpu: '100m', memory: '100Mi' });
    new Pod(pod).validate();
  });

  it('serves TLS with client-cert auth on the client and peer ports, from the etcd PKI directory', () => {
    const f = podFlags(renderEtcd(m, m1));
    assert.equal(f.get('name'), 'm1');
    assert.equal(f.get('data-dir'), '/var/lib/etcd');
    assert.equal(f.get('listen-client-urls'), 'https://127.0.0.1:2379,https://10.0.0.11:2379');
    assert.equal(f.get('advertise-client-urls'), 'https://10.0.0.11:2379');
    assert.equal(f.get('listen-peer-urls'), 'https://10.0.0.11:2380');
    assert.equal(f.get('initial-advertise-peer-urls'), 'https://10.0.0.11:2380');
    assert.equal(f.get('cert-file'), '/etc/kubernetes/pki/etcd/server.crt');
    assert.equal(f.get('key-file'), '/etc/kubernetes/pki/etcd/server.key');
    assert.equal(f.get('trusted-ca-file'), '/etc/kubernetes/pki/etcd/ca.crt');
    assert.equal(f.get('client-cert-auth'), 'true');
    assert.equal(f.get('peer-cert-file'), '/etc/kubernetes/pki/etcd/peer.crt');
    assert.equal(f.get('peer-key-file'), '/etc/kubernetes/pki/etcd/peer.key');
    assert.equal(f.get('peer-trusted-ca-file'), '/etc/kubernetes/pki/etcd/ca.crt');
    assert.equal(f.get('peer-client-cert-auth'), 'true');
    for (const [name, value] of f) {
      if (name.endsWith('-urls') && name !== 'listen-metrics-urls') {
        for (const url of value.split(',')) assert.match(url, /^https:\/\//, `--${name}`);
      }
    }
  });

  it('renders each member with its own name and addresses', () => {
    const a = podFlags(renderEtcd(m, m1));
    const b = podFlags(renderEtcd(m, m2));
    assert.equal(b.get('name'), 'm2');
    assert.equal(b.get('listen-client-urls'), 'https://127.0.0.1:2379,https://10.0.0.12:2379');
    assert.equal(b.get('advertise-client-urls'), 'https://10.0.0.12:2379');
    assert.equal(b.get('initial-advertise-peer-urls'), 'https://10.0.0.12:2380');
    for (const key of ['name', 'listen-client-urls', 'advertise-client-urls', 'listen-peer-urls', 'initial-advertise-peer-urls']) {
      assert.notEqual(a.get(key), b.get(key), key);
    }
    assert.equal(a.get('initial-cluster'), b.get('initial-cluster'), 'the member list is the same on every member');
  });

  it('bootstraps a static cluster with the full member list and a per-cluster token', () => {
    const f = podFlags(renderEtcd(m, m1));
    assert.equal(f.get('initial-cluster'), 'm1=https://10.0.0.11:2380,m2=https://10.0.0.12:2380,m3=https://10.0.0.13:2380');
    assert.equal(f.get('initial-cluster-state'), 'new');
    assert.equal(f.get('initial-cluster-token'), 'prod-etcd');
    assert.equal(f.has('discovery'), false);
  });

  it('bootstraps from a discovery URL without any initial-cluster flag', () => {
    const d = discoveryModel();
    const f = podFlags(renderEtcd(d, d.etcd.members[0]!));
    assert.equal(f.get('discovery'), 'https://discovery.example:8087/v2/keys/_etcd/registry/3f2a9c');
    for (const key of ['initial-cluster', 'initial-cluster-state', 'initial-cluster-token']) assert.equal(f.has(key), false, key);
    assert.equal(f.get('initial-advertise-peer-urls'), 'https://10.0.0.11:2380', 'discovery still needs the advertised peer URL');
  });

  it('keeps data in a host directory it may create and reads the PKI read-only', () => {
    const yaml = renderEtcd(m, m1);
    const pod = parsePod(yaml);
    const byName = new Map(pod.spec?.volumes?.map((v) => [v.name, v.hostPath]));
    const mounts = new Map(onlyContainer(pod).volumeMounts?.map((v) => [v.mountPath, v]));
    const data = mounts.get('/var/lib/etcd');
    const pki = mounts.get('/etc/kubernetes/pki/etcd');
    assert.ok(data && pki);
    assert.deepEqual(byName.get(data.name), { path: '/var/lib/etcd', type: 'DirectoryOrCreate' });
    assert.notEqual(data.readOnly, true);
    assert.deepEqual(byName.get(pki.name), { path: '/etc/kubernetes/pki/etcd', type: 'Directory' });
    assert.equal(pki.readOnly, true);
    assertPathsMounted(yaml);
  });

  it('probes /health on the plain-HTTP loopback metrics listener, which needs no client certificate', () => {
    const yaml = renderEtcd(m, m1);
    assert.equal(podFlags(yaml).get('listen-metrics-urls'), `http://127.0.0.1:${ETCD_METRICS_PORT}`);
    const c = onlyContainer(parsePod(yaml));
    for (const probe of [c.livenessProbe, c.startupProbe]) {
      assert.equal(probe?.httpGet?.host, '127.0.0.1');
      assert.equal(probe?.httpGet?.port, ETCD_METRICS_PORT);
      assert.equal(probe?.httpGet?.scheme, 'HTTP');
      assert.match(probe?.httpGet?.path ?? '', /^\/health(\?|$)/);
    }
  });

  it('refuses a member that is not in the model', () => {
    const stranger = { ...m1, name: 'm9', peerURL: 'https://10.0.0.19:2380' };
    assert.throws(() => renderEtcd(m, stranger), /^Error: etcd: member "m9"/);
  });
});
