import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { ApplyMode, Plan, ProbeState } from '../../proto/gen/muster/agent/v1/agent.js';
import { annotationOf, manifestHash, MANIFEST_HASH_ANNOTATION } from '../../common/manifest-hash.js';
import { fakeCrictl } from '../../test/helpers/crictl.js';
import { issueCertificate, testCerts } from '../../test/helpers/certs.js';
import { silent, tempHost } from '../../test/helpers/host.js';
import { localChecks } from './local.js';
import { CRICTL_MISSING } from './running-pods.js';

const manifest = 'apiVersion: v1\nkind: Pod\nmetadata: { name: etcd }\nspec:\n  containers: [{ name: etcd, image: e }]\n';

test('local checks: static pods as planned, then one missing and one edited', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const plan = Plan.fromPartial({ node: 'n', revision: 'r', tasks: [{ id: 'a', staticPod: { name: 'etcd', manifest } }, { id: 'b', staticPod: { name: 'kube-apiserver', manifest } }] });
  await h.engine.run(plan, { mode: ApplyMode.APPLY_MODE_APPLY });
  const [pods] = localChecks(plan, h.host, silent, undefined, undefined, { crictl: h.real('/no/crictl') });
  assert.equal(pods.name, 'static-pods');
  const unknown = await pods.run();
  // The files are what a node's health rests on; the running view only gates rollouts.
  assert.equal(unknown.state, ProbeState.PROBE_STATE_HEALTHY);
  assert.equal(unknown.message, `2 static pod manifest(s) as planned; running pods unknown: ${CRICTL_MISSING}`);
  assert.equal(unknown.details!['etcd.running-hash'], '');
  await fs.rm(h.real('/etc/kubernetes/manifests/etcd.yaml'));
  await fs.appendFile(h.real('/etc/kubernetes/manifests/kube-apiserver.yaml'), '# x\n');
  assert.deepEqual(await pods.run(), { state: ProbeState.PROBE_STATE_FAILED, message: 'etcd.yaml missing; kube-apiserver.yaml differs' });
});

test('local checks: certificates healthy, degraded within 30 days, failed when expired', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const { ca, leaf } = testCerts();
  const soon = issueCertificate(ca, { commonName: 'soon', usages: ['server'], validityDays: 10 });
  const gone = issueCertificate(ca, { commonName: 'gone', usages: ['server'], notBefore: new Date(Date.now() - 5 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
  const task = (id: string, pair: { certPem: string; keyPem: string }) => ({ id, certificate: { certPath: `/srv/kubernetes/${id}.crt`, keyPath: `/srv/kubernetes/${id}.key`, certPem: pair.certPem, keyPem: pair.keyPem } });
  const run = async (...tasks: ReturnType<typeof task>[]) => localChecks(Plan.fromPartial({ tasks }), h.host, silent).find((c) => c.name === 'certificates')!.run();
  assert.equal((await run(task('ok', leaf))).state, ProbeState.PROBE_STATE_HEALTHY);
  const degraded = await run(task('ok', leaf), task('soon', soon));
  assert.equal(degraded.state, ProbeState.PROBE_STATE_DEGRADED);
  assert.match(degraded.message, /expiring within 30 days: \/srv\/kubernetes\/soon\.crt \(9d\)/);
  const failed = await run(task('ok', leaf), task('gone', gone));
  assert.equal(failed.state, ProbeState.PROBE_STATE_FAILED);
  assert.match(failed.message, /expired: \/srv\/kubernetes\/gone\.crt/);
});

test('local checks: a planned mount that is not there fails, and the status gets every mount', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  let reported: { target: string; mounted: boolean }[] = [];
  const plan = Plan.fromPartial({ tasks: [{ id: 'data', mount: { target: '/mnt/data', block: { device: '/dev/loop-not-there' } } }] });
  const check = localChecks(plan, h.host, silent, (m) => (reported = m)).find((c) => c.name === 'mounts')!;
  const outcome = await check.run();
  assert.equal(outcome.state, ProbeState.PROBE_STATE_FAILED);
  assert.equal(outcome.message, 'not mounted: /mnt/data');
  assert.deepEqual(reported.map((m) => [m.target, m.mounted]), [['/mnt/data', false]]);
});

test('local checks: static pods wait for the kubelet until the running sandbox carries the planned manifest hash', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const plan = Plan.fromPartial({ node: 'n', revision: 'r', tasks: [{ id: 'a', staticPod: { name: 'etcd', manifest } }] });
  await h.engine.run(plan, { mode: ApplyMode.APPLY_MODE_APPLY });
  const written = await fs.readFile(h.real('/etc/kubernetes/manifests/etcd.yaml'), 'utf8');
  const hash = manifestHash(manifest);
  assert.equal(annotationOf(written, MANIFEST_HASH_ANNOTATION), hash, 'the agent stamps the manifest it writes');
  const crictl = await fakeCrictl(h.real('/bin'));
  const [pods] = localChecks(plan, h.host, silent, undefined, undefined, { crictl: crictl.path, runtimeSocket: '/run/k3s/containerd.sock' });
  await crictl.set([{ name: 'etcd', hash: 'old', namespace: 'default' }]);
  const old = await pods.run();
  assert.equal(old.state, ProbeState.PROBE_STATE_DEGRADED);
  assert.match(old.message, /waiting for the kubelet: etcd runs an older manifest \(old\), planned [0-9a-f]{12}/);
  assert.deepEqual(old.details, { 'etcd.manifest-hash': hash, 'etcd.running-hash': 'old' });
  await crictl.set([{ name: 'etcd', hash: 'old', namespace: 'default', ready: false }, { name: 'etcd', hash, namespace: 'default' }]);
  assert.deepEqual(await pods.run(), { state: ProbeState.PROBE_STATE_HEALTHY, message: '1 static pod(s) running as planned', details: { 'etcd.manifest-hash': hash, 'etcd.running-hash': hash } });
  // The socket is a host path under the agent's root; the manifest has no namespace, so "default".
  const argv = await crictl.argv();
  assert.equal(argv[0], `--runtime-endpoint unix://${h.real('/run/k3s/containerd.sock')} pods --namespace default -o json`);
  await crictl.setRaw('not json');
  const broken = await pods.run();
  assert.equal(broken.state, ProbeState.PROBE_STATE_DEGRADED);
  assert.match(broken.message, /running pods unknown: crictl pods -o json: not JSON/);
});
