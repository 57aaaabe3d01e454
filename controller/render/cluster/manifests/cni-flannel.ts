// The flannel CNI (vxlan), pinned, with the cluster's pod CIDR: the layout of upstream's
// kube-flannel.yml for the pinned release, built as objects so each one is validated.
import { DaemonSet, type IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { ClusterModel } from '../model.js';
import { header, toYaml, validated } from './pod.js';

export const FLANNEL_VERSION = 'v0.26.1';
export const FLANNEL_CNI_PLUGIN_VERSION = 'v1.6.0-flannel1';
const NS = 'kube-flannel';
const ADDON = { 'addonmanager.kubernetes.io/mode': 'Reconcile' };
const LABELS = { tier: 'node', app: 'flannel', 'k8s-app': 'flannel' };

export interface FlannelImages {
  flannel: string; // ghcr.io/flannel-io/flannel:v0.26.1
  cniPlugin: string; // ghcr.io/flannel-io/flannel-cni-plugin:v1.6.0-flannel1
}

export function defaultFlannelImages(repository = 'ghcr.io/flannel-io'): FlannelImages {
  return { flannel: `${repository}/flannel:${FLANNEL_VERSION}`, cniPlugin: `${repository}/flannel-cni-plugin:${FLANNEL_CNI_PLUGIN_VERSION}` };
}

const CNI_CONF = {
  name: 'cbr0',
  cniVersion: '0.3.1',
  plugins: [
    { type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true } },
    { type: 'portmap', capabilities: { portMappings: true } },
  ],
};

function daemonSet(images: FlannelImages): IDaemonSet {
  const cniMounts = [{ name: 'cni', mountPath: '/etc/cni/net.d' }];
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'kube-flannel-ds', namespace: NS, labels: { ...LABELS, ...ADDON } },
    spec: {
      selector: { matchLabels: { app: 'flannel', 'k8s-app': 'flannel' } },
      template: {
        metadata: { labels: LABELS },
        spec: {
          affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In', values: ['linux'] }] }] } } },
          hostNetwork: true,
          priorityClassName: 'system-node-critical',
          tolerations: [{ operator: 'Exists', effect: 'NoSchedule' }],
          serviceAccountName: 'flannel',
          initContainers: [
            { name: 'install-cni-plugin', image: images.cniPlugin, command: ['cp'], args: ['-f', '/flannel', '/opt/cni/bin/flannel'], volumeMounts: [{ name: 'cni-plugin', mountPath: '/opt/cni/bin' }] },
            { name: 'install-cni', image: images.flannel, command: ['cp'], args: ['-f', '/etc/kube-flannel/cni-conf.json', '/etc/cni/net.d/10-flannel.conflist'], volumeMounts: [...cniMounts, { name: 'flannel-cfg', mountPath: '/etc/kube-flannel/' }] },
          ],
          containers: [
            {
              name: 'kube-flannel',
              image: images.flannel,
              command: ['/opt/bin/flanneld'],
              args: ['--ip-masq', '--kube-subnet-mgr'],
              resources: { requests: { cpu: '100m', memory: '50Mi' } },
              securityContext: { privileged: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                { name: 'EVENT_QUEUE_DEPTH', value: '5000' },
              ],
              volumeMounts: [
                { name: 'run', mountPath: '/run/flannel' },
                { name: 'flannel-cfg', mountPath: '/etc/kube-flannel/' },
                { name: 'xtables-lock', mountPath: '/run/xtables.lock' },
              ],
            },
          ],
          volumes: [
            { name: 'run', hostPath: { path: '/run/flannel' } },
            { name: 'cni-plugin', hostPath: { path: '/opt/cni/bin' } },
            { name: 'cni', hostPath: { path: '/etc/cni/net.d' } },
            { name: 'flannel-cfg', configMap: { name: 'kube-flannel-cfg' } },
            { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
          ],
        },
      },
    },
  };
}

/** The flannel addon for the model's pod CIDR. */
export function renderFlannelAddon(model: ClusterModel, images: FlannelImages = defaultFlannelImages()): string {
  const netConf = { Network: model.network.podCIDR, EnableNFTables: false, Backend: { Type: 'vxlan' } };
  const docs = [
    validated(Namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'k8s-app': 'flannel', 'pod-security.kubernetes.io/enforce': 'privileged', ...ADDON } } }),
    validated(ServiceAccount, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'flannel', namespace: NS, labels: ADDON } }),
    validated(ClusterRole, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'flannel', labels: ADDON },
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
        { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] },
      ],
    }),
    validated(ClusterRoleBinding, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'flannel', labels: ADDON },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'flannel' },
      subjects: [{ kind: 'ServiceAccount', name: 'flannel', namespace: NS }],
    }),
    validated(ConfigMap, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kube-flannel-cfg', namespace: NS, labels: { ...LABELS, ...ADDON } },
      data: { 'cni-conf.json': JSON.stringify(CNI_CONF, null, 2) + '\n', 'net-conf.json': JSON.stringify(netConf, null, 2) + '\n' },
    }),
    validated(DaemonSet, daemonSet(images)),
  ];
  return header(model) + docs.map(toYaml).join('---\n');
}
