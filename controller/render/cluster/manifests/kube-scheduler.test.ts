import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pod } from 'kubernetes-models/v1/Pod';
import type { ClusterModel } from '../model.js';
import { exampleModel, oldModel } from './fixtures.js';
import { renderScheduler, SCHEDULER_SECURE_PORT } from './kube-scheduler.js';
import { assertPathsMounted, onlyContainer, parsePod, podFlags } from './testing.js';

const first = (m: ClusterModel) => m.controlPlane[0]!;

describe('renderScheduler', () => {
  it('runs leader-elected with its kubeconfig for the API and for delegated auth', () => {
    const m = exampleModel();
    const pod = parsePod(renderScheduler(m, first(m)));
    const c = onlyContainer(pod);
    assert.equal(c.image, m.images.scheduler);
    assert.equal(c.command?.[0], 'kube-scheduler');
    const kubeconfig = '/srv/kubernetes/scheduler.kubeconfig';
    assert.deepEqual(
      Object.fromEntries(podFlags(renderScheduler(m, first(m)))),
      {
        kubeconfig,
        'authentication-kubeconfig': kubeconfig,
        'authorization-kubeconfig': kubeconfig,
        'bind-address': '127.0.0.1',
        'secure-port': String(SCHEDULER_SECURE_PORT),
        'leader-elect': 'true',
      },
    );
    assert.deepEqual(pod.metadata?.labels, { component: 'kube-scheduler', tier: 'control-plane' });
    new Pod(pod).validate();
  });

  it('disables the insecure port only on versions that still had it (before 1.23)', () => {
    const m = oldModel();
    assert.equal(podFlags(renderScheduler(m, first(m))).get('port'), '0');
    for (const minor of [22, 23, 31]) {
      m.version = { raw: `v1.${minor}.0`, major: 1, minor, patch: 0 };
      assert.equal(podFlags(renderScheduler(m, first(m))).get('port'), minor < 23 ? '0' : undefined, `1.${minor}`);
    }
  });

  it('probes /healthz over HTTPS on its loopback secure port', () => {
    const m = exampleModel();
    const c = onlyContainer(parsePod(renderScheduler(m, first(m))));
    assert.deepEqual(c.livenessProbe?.httpGet, { host: '127.0.0.1', path: '/healthz', port: 10259, scheme: 'HTTPS' });
    assert.equal(c.startupProbe?.httpGet?.port, 10259);
  });

  it('mounts only its own kubeconfig, read-only', () => {
    const m = exampleModel();
    const yaml = renderScheduler(m, first(m));
    const pod = parsePod(yaml);
    assert.deepEqual(pod.spec?.volumes, [{ name: 'kubeconfig', hostPath: { path: '/srv/kubernetes/scheduler.kubeconfig', type: 'File' } }]);
    assert.deepEqual(onlyContainer(pod).volumeMounts, [{ name: 'kubeconfig', mountPath: '/srv/kubernetes/scheduler.kubeconfig', readOnly: true }]);
    assertPathsMounted(yaml);
  });

  it('uses the seccomp annotation before 1.19 and the field from 1.19', () => {
    const o = oldModel();
    const old = parsePod(renderScheduler(o, first(o)));
    assert.equal(old.metadata?.annotations?.['seccomp.security.alpha.kubernetes.io/pod'], 'runtime/default');
    assert.equal(old.spec?.securityContext, undefined);
    const m = exampleModel();
    const cur = parsePod(renderScheduler(m, first(m)));
    assert.equal(cur.metadata?.annotations, undefined);
    assert.deepEqual(cur.spec?.securityContext, { seccompProfile: { type: 'RuntimeDefault' } });
  });

  it('refuses a node that is not in the control plane', () => {
    const m = exampleModel();
    assert.throws(() => renderScheduler(m, m.workers[3]!), /^Error: kube-scheduler: node "w4"/);
  });
});
