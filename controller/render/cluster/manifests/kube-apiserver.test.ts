import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pod } from 'kubernetes-models/v1/Pod';
import type { ClusterModel } from '../model.js';
import { exampleModel, oldModel } from './fixtures.js';
import { renderApiserver } from './kube-apiserver.js';
import { assertPathsMounted, onlyContainer, parsePod, podFlags } from './testing.js';

function atVersion(minor: number, patch = 0): ClusterModel {
  const m = exampleModel();
  m.version = { raw: `v1.${minor}.${patch}`, major: 1, minor, patch };
  return m;
}

const first = (m: ClusterModel) => m.controlPlane[0]!;

describe('renderApiserver', () => {
  it('passes every flag the HA control plane needs, with values from the model', () => {
    const m = exampleModel();
    const f = podFlags(renderApiserver(m, first(m)));
    const expected: Record<string, string> = {
      'advertise-address': '10.0.0.11',
      'secure-port': '6444',
      'etcd-servers': 'https://10.0.0.11:2379,https://10.0.0.12:2379,https://10.0.0.13:2379',
      'etcd-cafile': '/srv/kubernetes/etcd-ca.crt',
      'etcd-certfile': '/srv/kubernetes/apiserver-etcd-client.crt',
      'etcd-keyfile': '/srv/kubernetes/apiserver-etcd-client.key',
      'client-ca-file': '/srv/kubernetes/ca.crt',
      'tls-cert-file': '/srv/kubernetes/server.cert',
      'tls-private-key-file': '/srv/kubernetes/server.key',
      'kubelet-client-certificate': '/srv/kubernetes/apiserver-kubelet-client.crt',
      'kubelet-client-key': '/srv/kubernetes/apiserver-kubelet-client.key',
      'service-cluster-ip-range': '10.96.0.0/12',
      'service-account-key-file': '/srv/kubernetes/sa.pub',
      'service-account-signing-key-file': '/srv/kubernetes/sa.key',
      'service-account-issuer': 'https://kubernetes.default.svc.cluster.local',
      'authorization-mode': 'Node,RBAC',
      'enable-admission-plugins': 'NodeRestriction',
      'allow-privileged': 'true',
      'max-requests-inflight': '400',
      'max-mutating-requests-inflight': '200',
      'endpoint-reconciler-type': 'lease',
      'token-auth-file': '/srv/kubernetes/known_tokens.csv',
    };
    for (const [name, value] of Object.entries(expected)) assert.equal(f.get(name), value, `--${name}`);
    for (const absent of ['insecure-port', 'basic-auth-file', 'apiserver-count']) assert.equal(f.has(absent), false, `--${absent}`);
  });

  it('advertises each node its own address, with the same etcd list everywhere', () => {
    const m = exampleModel();
    const flags = m.controlPlane.map((n) => podFlags(renderApiserver(m, n)));
    assert.deepEqual(flags.map((f) => f.get('advertise-address')), ['10.0.0.11', '10.0.0.12', '10.0.0.13']);
    assert.equal(new Set(flags.map((f) => f.get('etcd-servers'))).size, 1);
  });

  it('takes the inflight limits and the port from the model', () => {
    const m = exampleModel();
    m.api.maxRequestsInflight = 3000;
    m.api.maxMutatingRequestsInflight = 1000;
    m.api.apiserverPort = 8443;
    const yaml = renderApiserver(m, first(m));
    const f = podFlags(yaml);
    assert.equal(f.get('max-requests-inflight'), '3000');
    assert.equal(f.get('max-mutating-requests-inflight'), '1000');
    assert.equal(f.get('secure-port'), '8443');
    const c = onlyContainer(parsePod(yaml));
    assert.equal(c.livenessProbe?.httpGet?.port, 8443);
    assert.equal(c.readinessProbe?.httpGet?.port, 8443);
  });

  it('passes --token-auth-file only with token auth on', () => {
    const m = exampleModel();
    m.auth.tokenAuth = false;
    assert.equal(podFlags(renderApiserver(m, first(m))).has('token-auth-file'), false);
  });

  it('passes --basic-auth-file on 1.18 when basic auth is on', () => {
    const m = oldModel();
    assert.equal(podFlags(renderApiserver(m, first(m))).get('basic-auth-file'), '/srv/kubernetes/basic_auth.csv');
    m.auth.basicAuth = false;
    assert.equal(podFlags(renderApiserver(m, first(m))).has('basic-auth-file'), false);
  });

  it('refuses basic auth from 1.19 on, where the apiserver no longer has the flag', () => {
    for (const minor of [19, 20, 31]) {
      const m = atVersion(minor);
      m.auth.basicAuth = true;
      assert.throws(() => renderApiserver(m, first(m)), /^Error: kube-apiserver: --basic-auth-file was removed in Kubernetes 1\.19/, `1.${minor}`);
    }
  });

  it('turns the insecure port off explicitly only before 1.20', () => {
    for (const [minor, expected] of [[15, '0'], [18, '0'], [19, '0'], [20, undefined], [23, undefined], [31, undefined]] as const) {
      const m = atVersion(minor);
      assert.equal(podFlags(renderApiserver(m, first(m))).get('insecure-port'), expected, `1.${minor}`);
    }
  });

  it('signs service-account tokens with an issuer from 1.20 on', () => {
    const old = podFlags(renderApiserver(atVersion(19), first(exampleModel())));
    assert.equal(old.has('service-account-signing-key-file'), false);
    assert.equal(old.has('service-account-issuer'), false);
    assert.equal(old.get('service-account-key-file'), '/srv/kubernetes/sa.pub');
    const m = atVersion(20);
    m.network.clusterDomain = 'k8s.example';
    const f = podFlags(renderApiserver(m, first(m)));
    assert.equal(f.get('service-account-signing-key-file'), '/srv/kubernetes/sa.key');
    assert.equal(f.get('service-account-issuer'), 'https://kubernetes.default.svc.k8s.example');
  });

  it('probes /livez and /readyz over HTTPS on loopback, /healthz before 1.16', () => {
    const m = exampleModel();
    const c = onlyContainer(parsePod(renderApiserver(m, first(m))));
    assert.deepEqual(c.livenessProbe?.httpGet, { host: '127.0.0.1', path: '/livez', port: 6444, scheme: 'HTTPS' });
    assert.deepEqual(c.readinessProbe?.httpGet, { host: '127.0.0.1', path: '/readyz', port: 6444, scheme: 'HTTPS' });
    const o = atVersion(15, 12);
    const old = onlyContainer(parsePod(renderApiserver(o, first(o))));
    assert.equal(old.livenessProbe?.httpGet?.path, '/healthz');
    assert.equal(old.readinessProbe?.httpGet?.path, '/healthz');
  });

  it('mounts /srv/kubernetes read-only and nothing else', () => {
    const m = exampleModel();
    const yaml = renderApiserver(m, first(m));
    const pod = parsePod(yaml);
    assert.deepEqual(pod.spec?.volumes, [{ name: 'srv-kubernetes', hostPath: { path: '/srv/kubernetes', type: 'Directory' } }]);
    assert.deepEqual(onlyContainer(pod).volumeMounts, [{ name: 'srv-kubernetes', mountPath: '/srv/kubernetes', readOnly: true }]);
    assertPathsMounted(yaml);
    new Pod(pod).validate();
  });

  it('refuses a node that is not in the control plane', () => {
    const m = exampleModel();
    assert.throws(() => renderApiserver(m, m.workers[0]!), /^Error: kube-apiserver: node "w1"/);
  });
});
