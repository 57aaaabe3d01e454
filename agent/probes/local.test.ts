import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { ApplyMode, Plan, ProbeState } from '../../proto/gen/muster/agent/v1/agent.js';
import { issueCertificate, testCerts } from '../../test/helpers/certs.js';
import { silent, tempHost } from '../../test/helpers/host.js';
import { localChecks } from './local.js';

const manifest = 'apiVersion: v1\nkind: Pod\nmetadata: { name: etcd }\nspec:\n  containers: [{ name: etcd, image: e }]\n';

test('local checks: static pods as planned, then one missing and one edited', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const plan = Plan.fromPartial({ node: 'n', revision: 'r', tasks: [{ id: 'a', staticPod: { name: 'etcd', manifest } }, { id: 'b', staticPod: { name: 'kube-apiserver', manifest } }] });
  await h.engine.run(plan, { mode: ApplyMode.APPLY_MODE_APPLY });
  const [pods] = localChecks(plan, h.host, silent);
  assert.equal(pods.name, 'static-pods');
  assert.deepEqual(await pods.run(), { state: ProbeState.PROBE_STATE_HEALTHY, message: '2 static pod manifest(s) as planned' });
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
