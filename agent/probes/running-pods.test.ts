import assert from 'node:assert/strict';
import { test } from 'node:test';
import { notRestarted, parseSandboxes, plannedPod, sandboxOf, type Sandbox } from './running-pods.js';

const sb = (name: string, hash: string, createdAt: bigint, extra: Partial<Sandbox> = {}): Sandbox => ({
  name, namespace: 'kube-system', ready: true, createdAt, annotations: { 'kubernetes.io/config.source': 'file', 'muster.io/manifest-hash': hash }, ...extra,
});
const pod = (name: string) => ({ name, namespace: 'kube-system', manifestHash: `h-${name}` });

test('running pods: crictl pods -o json as crictl prints it', () => {
  const json = JSON.stringify({
    items: [{ id: 'abc', metadata: { name: 'etcd-m1', uid: 'u', namespace: 'kube-system', attempt: 1 }, state: 'SANDBOX_READY', createdAt: '1764583200000000000', labels: {}, annotations: { 'muster.io/manifest-hash': 'h1', n: 3 }, runtimeHandler: '' }],
  });
  assert.deepEqual(parseSandboxes(json), [{ name: 'etcd-m1', namespace: 'kube-system', ready: true, createdAt: 1764583200000000000n, annotations: { 'muster.io/manifest-hash': 'h1', n: '3' } }]);
  assert.deepEqual(parseSandboxes('{}'), []);
  assert.throws(() => parseSandboxes('{"items":'), /crictl pods -o json: not JSON/);
  assert.throws(() => parseSandboxes('{"items":{}}'), /"items" is not a list/);
});

test('running pods: the newest ready sandbox of the pod, by the kubelet\'s "<name>-<node>" name', () => {
  const all = [pod('etcd'), pod('etcd-backup')];
  const sandboxes = [
    sb('etcd-m1', 'old', 1n),
    sb('etcd-m1', 'new', 3n),
    sb('etcd-m1', 'dead', 5n, { ready: false }),
    sb('etcd-backup-m1', 'backup', 9n),
    sb('etcd-m1', 'api', 7n, { annotations: { 'muster.io/manifest-hash': 'api' } }),
    sb('etcd-m1', 'elsewhere', 8n, { namespace: 'default' }),
  ];
  assert.equal(sandboxOf(all[0], all, sandboxes)?.annotations['muster.io/manifest-hash'], 'new', 'not the dead, the API-created or the other namespace\'s one');
  assert.equal(sandboxOf(all[1], all, sandboxes)?.annotations['muster.io/manifest-hash'], 'backup');
  assert.equal(sandboxOf(pod('kube-apiserver'), all, sandboxes), undefined);
});

test('running pods: which pods the kubelet has not restarted yet, said per pod', () => {
  const pods = [pod('etcd'), pod('kube-apiserver'), pod('kube-scheduler')];
  const running = new Map([['etcd', 'h-etcd'], ['kube-apiserver', 'abcdef0123456789'], ['kube-scheduler', '']]);
  assert.deepEqual(notRestarted(pods, running), ['kube-apiserver runs an older manifest (abcdef012345), planned h-kube-apise', 'kube-scheduler has no running pod from a muster manifest']);
  assert.deepEqual(notRestarted(pods.slice(0, 1), running), []);
});

test('running pods: the planned pod\'s namespace from its manifest, "default" when it gives none', () => {
  assert.equal(plannedPod('etcd', 'metadata:\n  name: etcd\n  namespace: kube-system\n').namespace, 'kube-system');
  assert.equal(plannedPod('etcd', 'metadata: { name: etcd }\n').namespace, 'default');
  assert.equal(plannedPod('etcd', ': [').namespace, 'default');
});
