import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { ClusterModel } from '../model.js';
import { discoveryModel, exampleModel, kubeadmModel, kubeDnsModel, oldModel } from './fixtures.js';
import { renderApiserver, renderControllerManager, renderDnsAddon, renderEtcd, renderScheduler } from './index.js';

// UPDATE_GOLDEN=1 rewrites the files; review the diff before committing it.
const GOLDEN_DIR = new URL('./golden/', import.meta.url);
const update = process.env.UPDATE_GOLDEN === '1';

const cp = (m: ClusterModel, i = 0) => m.controlPlane[i]!;
const member = (m: ClusterModel, i = 0) => m.etcd.members[i]!;

const CASES: [file: string, render: () => string][] = [
  ['etcd-m1.yaml', () => { const m = exampleModel(); return renderEtcd(m, member(m)); }],
  ['etcd-m2-discovery.yaml', () => { const m = discoveryModel(); return renderEtcd(m, member(m, 1)); }],
  ['kube-apiserver-m1.yaml', () => { const m = exampleModel(); return renderApiserver(m, cp(m)); }],
  ['kube-apiserver-m1-kubeadm.yaml', () => { const m = kubeadmModel(); return renderApiserver(m, cp(m)); }],
  ['kube-controller-manager-m1-kubeadm.yaml', () => { const m = kubeadmModel(); return renderControllerManager(m, cp(m)); }],
  ['kube-apiserver-m1-v1.18.yaml', () => { const m = oldModel(); return renderApiserver(m, cp(m)); }],
  ['kube-controller-manager-m1.yaml', () => { const m = exampleModel(); return renderControllerManager(m, cp(m)); }],
  ['kube-controller-manager-m1-v1.18.yaml', () => { const m = oldModel(); return renderControllerManager(m, cp(m)); }],
  ['kube-scheduler-m1.yaml', () => { const m = exampleModel(); return renderScheduler(m, cp(m)); }],
  ['dns-coredns.yaml', () => renderDnsAddon(exampleModel())],
  ['dns-kube-dns.yaml', () => renderDnsAddon(kubeDnsModel())],
];

describe('golden files', () => {
  for (const [file, render] of CASES) {
    it(file, () => {
      const url = new URL(file, GOLDEN_DIR);
      const actual = render();
      if (update) {
        mkdirSync(GOLDEN_DIR, { recursive: true });
        writeFileSync(url, actual);
        return;
      }
      assert.ok(existsSync(url), `golden/${file} is missing; run with UPDATE_GOLDEN=1 to create it`);
      assert.equal(actual, readFileSync(url, 'utf8'), `golden/${file} differs; if the change is intended, rerun with UPDATE_GOLDEN=1`);
    });
  }
});

describe('determinism', () => {
  it('renders the same bytes twice, and from an equal but separately built model', () => {
    for (const [file, render] of CASES) assert.equal(render(), render(), file);
    const a = exampleModel();
    const b = structuredClone(a);
    assert.equal(renderApiserver(a, cp(a)), renderApiserver(b, cp(b)));
    assert.equal(renderDnsAddon(a), renderDnsAddon(b));
  });

  it('does not mutate the model', () => {
    const m = exampleModel();
    const before = structuredClone(m);
    renderEtcd(m, member(m));
    renderApiserver(m, cp(m));
    renderControllerManager(m, cp(m));
    renderScheduler(m, cp(m));
    renderDnsAddon(m);
    assert.deepEqual(m, before);
  });
});
