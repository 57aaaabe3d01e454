import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { exampleRuntime } from './fixtures.js';
import { renderContainerdConfig, renderCrictlConfig, renderKubeletConfig, renderKubeletDropIn, renderKubernetesAptSource } from './runtime.js';

describe('node runtime files', () => {
  it('containerd: systemd cgroups and the sandbox image', () => {
    const toml = renderContainerdConfig(exampleRuntime());
    assert.match(toml, /^version = 2$/m);
    assert.match(toml, /SystemdCgroup = true/);
    assert.match(toml, /sandbox_image = "registry.k8s.io\/pause:3.10"/);
  });
  it('kubelet: static pods, systemd driver, DNS from the service CIDR, webhook authn/authz with the client CA', () => {
    const c = parse(renderKubeletConfig(exampleRuntime()));
    assert.equal(c.kind, 'KubeletConfiguration');
    assert.equal(c.staticPodPath, '/etc/kubernetes/manifests');
    assert.equal(c.cgroupDriver, 'systemd');
    assert.deepEqual(c.clusterDNS, ['10.96.0.10']);
    assert.equal(c.clusterDomain, 'cluster.local');
    assert.equal(c.authentication.anonymous.enabled, false);
    assert.equal(c.authentication.webhook.enabled, true);
    assert.equal(c.authentication.x509.clientCAFile, '/var/lib/kubelet/pki/ca.crt');
    assert.equal(c.authorization.mode, 'Webhook');
    // muster issues and renews the kubelet's certificates (docs/cluster.md).
    assert.equal(c.rotateCertificates, false);
    assert.equal(c.serverTLSBootstrap, false);
    assert.equal(c.tlsCertFile, '/var/lib/kubelet/pki/kubelet.crt');
  });
  it('kubelet drop-in clears the packaged ExecStart first', () => {
    const d = renderKubeletDropIn(exampleRuntime(), { name: 'w1', ip: '10.0.1.1' });
    const lines = d.split('\n');
    const i = lines.indexOf('ExecStart=');
    assert.ok(i > 0 && lines[i + 1].startsWith('ExecStart=/usr/bin/kubelet '));
    assert.match(d, /--node-ip=10.0.1.1 --hostname-override=w1/);
  });
  it('crictl and the apt source', () => {
    assert.equal(parse(renderCrictlConfig(exampleRuntime()))['runtime-endpoint'], 'unix:///run/containerd/containerd.sock');
    assert.match(renderKubernetesAptSource(exampleRuntime())!, /^Signed-By: \/etc\/apt\/keyrings\/kubernetes.asc$/m);
    const none = exampleRuntime();
    delete none.kubelet.repository;
    assert.equal(renderKubernetesAptSource(none), undefined);
  });
});
