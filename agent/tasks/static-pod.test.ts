import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { manifestHash, stampManifest } from '../../common/manifest-hash.js';
import { TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { tempHost } from '../../test/helpers/host.js';
import { appendTo, timeline } from '../../test/helpers/timeline.js';

const manifest = `apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
spec:
  hostNetwork: true
  containers:
    - name: etcd
      image: registry.k8s.io/etcd:3.5.15-0
      command: [etcd, --name=m1]
`;

timeline({
  name: 'static-pod',
  task: { id: 'etcd', staticPod: { name: 'etcd', manifest, manifestsDir: '' } },
  drift: appendTo('/etc/kubernetes/manifests/etcd.yaml', '    # edited\n'),
});

timeline({
  name: 'static-pod (deleted)',
  task: { id: 'etcd', staticPod: { name: 'etcd', manifest, manifestsDir: '' } },
  drift: async (real) => fs.rm(real('/etc/kubernetes/manifests/etcd.yaml')),
});

for (const [what, bad, code] of [
  ['not a Pod', manifest.replace('kind: Pod', 'kind: Deployment'), 'MANIFEST_INVALID'],
  ['a Pod with a wrong field type', manifest.replace('hostNetwork: true', 'hostNetwork: "yes"'), 'MANIFEST_INVALID'],
  ['not YAML', 'apiVersion: v1\nkind: Pod\n  bad: [', 'MANIFEST_INVALID'],
] as const) {
  test(`static-pod: refuses ${what}, writing nothing`, async (t) => {
    const h = await tempHost();
    t.after(h.cleanup);
    const { results } = await h.run([{ id: 'p', staticPod: { name: 'etcd', manifest: bad, manifestsDir: '' } }]);
    assert.equal(results[0].status, TaskStatus.TASK_STATUS_FAILED);
    assert.equal(results[0].errorCode, code);
    await assert.rejects(fs.stat(h.real('/etc/kubernetes/manifests')));
  });
}

test('static-pod: refuses a manifest that sets the agent\'s own hash annotation', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const stamped = manifest.replace('  namespace: kube-system\n', '  namespace: kube-system\n  annotations:\n    muster.io/manifest-hash: abc\n');
  const { results } = await h.run([{ id: 'p', staticPod: { name: 'etcd', manifest: stamped, manifestsDir: '' } }]);
  assert.equal(results[0].errorCode, 'MANIFEST_INVALID');
  assert.match(results[0].errorMessage, /muster\.io\/manifest-hash is set by the agent on write/);
});

test('static-pod: a name the kubelet would skip or that leaves the folder is refused', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  for (const name of ['.hidden', '../etcd', 'Etcd', '']) {
    const { results } = await h.run([{ id: 'p', staticPod: { name, manifest, manifestsDir: '' } }]);
    assert.equal(results[0].errorCode, 'INVALID_SPEC', name);
  }
});

test('static-pod: written 0600 with no temp file left in the manifests folder', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  await h.run([{ id: 'p', staticPod: { name: 'etcd', manifest, manifestsDir: '' } }]);
  assert.deepEqual(await fs.readdir(h.real('/etc/kubernetes/manifests')), ['etcd.yaml']);
  assert.equal((await fs.stat(h.real('/etc/kubernetes/manifests/etcd.yaml'))).mode & 0o777, 0o600);
});

test('static-pod: the file written is the manifest stamped with its hash, comments kept', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const commented = manifest.replace('spec:\n', '# the node\'s etcd\nspec:\n');
  await h.run([{ id: 'p', staticPod: { name: 'etcd', manifest: commented, manifestsDir: '' } }]);
  const written = await fs.readFile(h.real('/etc/kubernetes/manifests/etcd.yaml'), 'utf8');
  assert.equal(written, stampManifest(commented).toString());
  assert.match(written, new RegExp(`  namespace: kube-system\n  annotations:\n    muster.io/manifest-hash: ${manifestHash(commented)}\n# the node's etcd\nspec:\n`));
});
