import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pod } from 'kubernetes-models/v1/Pod';
import type { ClusterModel } from '../model.js';
import { exampleModel, oldModel } from './fixtures.js';
import { CONTROLLER_MANAGER_SECURE_PORT, podCidrNodeCapacity, renderControllerManager } from './kube-controller-manager.js';
import { assertPathsMounted, onlyContainer, parsePod, podFlags } from './testing.js';

const first = (m: ClusterModel) => m.controlPlane[0]!;

describe('renderControllerManager', () => {
  it('runs leader-elected, allocating node pod CIDRs from the cluster CIDR', () => {
    const m = exampleModel();
    const f = podFlags(renderControllerManager(m, first(m)));
    const kubeconfig = '/srv/kubernetes/controller-manager.kubeconfig';
    const expected: Record<string, string> = {
      kubeconfig,
      'authentication-kubeconfig': kubeconfig,
      'authorization-kubeconfig': kubeconfig,
      'leader-elect': 'true',
      'cluster-cidr': '10.244.0.0/16',
      'allocate-node-cidrs': 'true',
      'service-cluster-ip-range': '10.96.0.0/12',
      'service-account-private-key-file': '/srv/kubernetes/sa.key',
      'root-ca-file': '/srv/kubernetes/ca.crt',
      'use-service-account-credentials': 'true',
      controllers: '*,bootstrapsigner,tokencleaner',
      'bind-address': '127.0.0.1',
      'secure-port': String(CONTROLLER_MANAGER_SECURE_PORT),
    };
    for (const [name, value] of Object.entries(expected)) assert.equal(f.get(name), value, `--${name}`);
  });

  it('never references the CA key: certificate signing stays with the muster controller', () => {
    const m = exampleModel();
    const yaml = renderControllerManager(m, first(m));
    const f = podFlags(yaml);
    assert.equal(f.has('cluster-signing-cert-file'), false);
    assert.equal(f.has('cluster-signing-key-file'), false);
    assert.doesNotMatch(yaml, /ca\.key/);
  });

  it('follows the model: another pod CIDR and service CIDR', () => {
    const m = exampleModel();
    m.network.podCIDR = '172.16.0.0/14';
    m.network.serviceCIDR = '172.20.0.0/16';
    const f = podFlags(renderControllerManager(m, first(m)));
    assert.equal(f.get('cluster-cidr'), '172.16.0.0/14');
    assert.equal(f.get('service-cluster-ip-range'), '172.20.0.0/16');
  });

  it('renders the same pod on every control-plane node', () => {
    const m = exampleModel();
    const [a, b] = m.controlPlane.map((n) => renderControllerManager(m, n));
    assert.equal(a, b);
  });

  it('disables the insecure port only on versions that still had it (before 1.22)', () => {
    const m = oldModel();
    assert.equal(podFlags(renderControllerManager(m, first(m))).get('port'), '0');
    for (const minor of [21, 22, 31]) {
      m.version = { raw: `v1.${minor}.0`, major: 1, minor, patch: 0 };
      assert.equal(podFlags(renderControllerManager(m, first(m))).get('port'), minor < 22 ? '0' : undefined, `1.${minor}`);
    }
  });

  it('probes /healthz over HTTPS on its loopback secure port', () => {
    const m = exampleModel();
    const c = onlyContainer(parsePod(renderControllerManager(m, first(m))));
    assert.deepEqual(c.livenessProbe?.httpGet, { host: '127.0.0.1', path: '/healthz', port: 10257, scheme: 'HTTPS' });
  });

  it('mounts /srv/kubernetes read-only for its kubeconfig, sa.key and ca.crt', () => {
    const m = exampleModel();
    const yaml = renderControllerManager(m, first(m));
    assert.deepEqual(onlyContainer(parsePod(yaml)).volumeMounts, [{ name: 'srv-kubernetes', mountPath: '/srv/kubernetes', readOnly: true }]);
    assertPathsMounted(yaml);
    new Pod(parsePod(yaml)).validate();
  });

  it('refuses a pod CIDR too small for the nodes at the default /24 per node', () => {
    const m = exampleModel();
    m.network.podCIDR = '10.244.0.0/20'; // 16 node subnets for 23 kubelets
    assert.throws(() => renderControllerManager(m, first(m)), /^Error: kube-controller-manager: podCIDR 10\.244\.0\.0\/20 holds 16 node subnets .* 23 nodes/);
  });

  it('computes pod CIDR capacity at the default per-node masks', () => {
    assert.equal(podCidrNodeCapacity('10.244.0.0/16'), 256);
    assert.equal(podCidrNodeCapacity('10.0.0.0/8'), 65536);
    assert.equal(podCidrNodeCapacity('10.244.0.0/24'), 1);
    assert.equal(podCidrNodeCapacity('10.244.0.0/25'), 0);
    assert.equal(podCidrNodeCapacity('fd00:10:244::/56'), 256);
  });

  it('refuses a node that is not in the control plane', () => {
    const m = exampleModel();
    assert.throws(() => renderControllerManager(m, m.lbNodes[0]!), /^Error: kube-controller-manager: node "lb1"/);
  });
});
