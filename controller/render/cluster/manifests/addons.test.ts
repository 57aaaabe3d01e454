import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IPod } from 'kubernetes-models/v1/Pod';
import { parse } from 'yaml';
import { renderAddonManager } from './addon-manager.js';
import { FLANNEL_VERSION, renderFlannelAddon } from './cni-flannel.js';
import { exampleModel } from './fixtures.js';
import { renderKubeProxyAddon } from './kube-proxy.js';
import { documents } from './testing.js';

const find = <T>(yaml: string, kind: string): T[] => documents(yaml).filter((d) => d.kind === kind) as T[];

describe('kube-proxy addon', () => {
  it('runs the cluster version on every node, with the pod CIDR and the API through the VIP', () => {
    const m = exampleModel();
    const yaml = renderKubeProxyAddon(m, 'registry.k8s.io');
    const [ds] = find<IDaemonSet>(yaml, 'DaemonSet');
    assert.equal(ds.spec!.template.spec!.containers[0].image, 'registry.k8s.io/kube-proxy:v1.31.2');
    assert.deepEqual(ds.spec!.template.spec!.tolerations, [{ operator: 'Exists' }]);
    const [cm] = find<IConfigMap>(yaml, 'ConfigMap');
    const config = parse(cm.data!['config.conf']);
    assert.equal(config.clusterCIDR, '10.244.0.0/16');
    assert.equal(config.kind, 'KubeProxyConfiguration');
    assert.equal(parse(cm.data!['kubeconfig.conf']).clusters[0].cluster.server, `https://${m.api.vip}:${m.api.port}`);
    assert.equal(find(yaml, 'ClusterRoleBinding').length, 1);
  });
});

describe('flannel addon', () => {
  it('fills in the pod CIDR and pins the release', () => {
    const m = exampleModel();
    m.network.podCIDR = '10.50.0.0/16';
    const yaml = renderFlannelAddon(m);
    const [cm] = find<IConfigMap>(yaml, 'ConfigMap');
    assert.equal(JSON.parse(cm.data!['net-conf.json']).Network, '10.50.0.0/16');
    assert.equal(JSON.parse(cm.data!['cni-conf.json']).plugins[0].type, 'flannel');
    const [ds] = find<IDaemonSet>(yaml, 'DaemonSet');
    assert.ok(ds.spec!.template.spec!.containers[0].image!.endsWith(`:${FLANNEL_VERSION}`));
    assert.deepEqual(documents(yaml).map((d) => d.kind), ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet']);
  });
});

describe('addon manager', () => {
  it('is a static pod reading the addons folder with its own kubeconfig', () => {
    const m = exampleModel();
    const [pod] = find<IPod>(renderAddonManager(m), 'Pod');
    const env = Object.fromEntries(pod.spec!.containers[0].env!.map((e) => [e.name, e.value]));
    assert.equal(env.ADDON_PATH, m.paths.addons);
    assert.equal(env.KUBECTL_OPTS, `--kubeconfig=${m.paths.srv}/addon-manager.kubeconfig`);
    assert.equal(pod.spec!.hostNetwork, true);
  });
});
