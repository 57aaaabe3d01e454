import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { Pod, type IPod } from 'kubernetes-models/v1/Pod';
import { renderDnsAddon } from './dns.js';
import { exampleModel } from './fixtures.js';
import { renderApiserver } from './kube-apiserver.js';
import { atLeast, flags, validated } from './pod.js';

describe('validated', () => {
  it('returns a valid object unchanged', () => {
    const pod: IPod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ok' }, spec: { containers: [{ name: 'c', image: 'i' }] } };
    assert.equal(validated(Pod, pod), pod);
  });

  it('rejects a wrong field type and names the object and the field', () => {
    const broken = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'kube-apiserver' },
      spec: { hostNetwork: 'yes', containers: [{ name: 'kube-apiserver', image: 'x' }] },
    } as unknown as IPod;
    assert.throws(() => validated(Pod, broken), /^Error: kube-apiserver: invalid Pod manifest: .*hostNetwork must be boolean/);
  });

  it('rejects a bad quantity in a Deployment', () => {
    const broken = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns' },
      spec: {
        selector: { matchLabels: { a: 'b' } },
        template: { spec: { containers: [{ name: 'c', image: 'i', resources: { limits: { memory: 'lots' } } }] } },
      },
    } as unknown as IDeployment;
    assert.throws(() => validated(Deployment, broken), /coredns: invalid Deployment manifest: .*memory/);
  });

  it('is what the renderers call: a model value that breaks the schema fails the render', () => {
    const m = exampleModel();
    m.dns.resources.limits.memory = 'lots';
    assert.throws(() => renderDnsAddon(m), /coredns: invalid Deployment manifest/);
    const n = exampleModel();
    n.api.apiserverPort = 6443.5;
    assert.throws(() => renderApiserver(n, n.controlPlane[0]!), /kube-apiserver: invalid Pod manifest/);
  });
});

describe('flags', () => {
  it('keeps order, formats values and drops undefined ones', () => {
    assert.deepEqual(
      flags([['a', 'x'], ['b', 1], ['c', undefined], ['d', true], ['e', false]]),
      ['--a=x', '--b=1', '--d=true', '--e=false'],
    );
  });
});

describe('atLeast', () => {
  it('compares minor versions within 1.x', () => {
    const v = (minor: number) => ({ raw: `v1.${minor}.0`, major: 1, minor, patch: 0 });
    assert.equal(atLeast(v(19), 20), false);
    assert.equal(atLeast(v(20), 20), true);
    assert.equal(atLeast(v(31), 20), true);
  });
});
