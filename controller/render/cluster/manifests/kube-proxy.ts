// kube-proxy as a DaemonSet, the way kubeadm lays it out: its config and an in-cluster
// kubeconfig in a ConfigMap, a ServiceAccount bound to system:node-proxier.
import { DaemonSet, type IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { stringify } from 'yaml';
import type { ClusterModel } from '../model.js';
import { header, toYaml, validated } from './pod.js';

const NS = 'kube-system';
const ADDON = { 'addonmanager.kubernetes.io/mode': 'Reconcile' };
const LABELS = { 'k8s-app': 'kube-proxy', ...ADDON };

export function kubeProxyImage(model: ClusterModel, imageRepository: string): string {
  return `${imageRepository}/kube-proxy:${model.version.raw}`;
}

/** The KubeProxyConfiguration: iptables mode, the pod CIDR as clusterCIDR, the API through the VIP. */
export function kubeProxyConfig(model: ClusterModel): string {
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    bindAddress: '0.0.0.0',
    clusterCIDR: model.network.podCIDR,
    mode: 'iptables',
    clientConnection: { kubeconfig: '/var/lib/kube-proxy/kubeconfig.conf' },
    metricsBindAddress: '127.0.0.1:10249',
  });
}

function inClusterKubeconfig(model: ClusterModel): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'default', cluster: { 'certificate-authority': '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt', server: `https://${model.api.vip}:${model.api.port}` } }],
    contexts: [{ name: 'default', context: { cluster: 'default', namespace: 'default', user: 'default' } }],
    'current-context': 'default',
    users: [{ name: 'default', user: { tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' } }],
  });
}

function daemonSet(image: string): IDaemonSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'kube-proxy', namespace: NS, labels: LABELS },
    spec: {
      selector: { matchLabels: { 'k8s-app': 'kube-proxy' } },
      updateStrategy: { type: 'RollingUpdate' },
      template: {
        metadata: { labels: { 'k8s-app': 'kube-proxy' } },
        spec: {
          priorityClassName: 'system-node-critical',
          hostNetwork: true,
          serviceAccountName: 'kube-proxy',
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          tolerations: [{ operator: 'Exists' }],
          containers: [
            {
              name: 'kube-proxy',
              image,
              imagePullPolicy: 'IfNotPresent',
              command: ['/usr/local/bin/kube-proxy', '--config=/var/lib/kube-proxy/config.conf', '--hostname-override=$(NODE_NAME)'],
              env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
              securityContext: { privileged: true },
              volumeMounts: [
                { name: 'kube-proxy', mountPath: '/var/lib/kube-proxy' },
                { name: 'xtables-lock', mountPath: '/run/xtables.lock' },
                { name: 'lib-modules', mountPath: '/lib/modules', readOnly: true },
              ],
            },
          ],
          volumes: [
            { name: 'kube-proxy', configMap: { name: 'kube-proxy' } },
            { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
            { name: 'lib-modules', hostPath: { path: '/lib/modules' } },
          ],
        },
      },
    },
  };
}

/** The kube-proxy addon: ServiceAccount, binding, ConfigMap and DaemonSet, each validated. */
export function renderKubeProxyAddon(model: ClusterModel, imageRepository: string): string {
  const docs = [
    validated(ServiceAccount, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'kube-proxy', namespace: NS, labels: ADDON } }),
    validated(ClusterRoleBinding, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'muster:node-proxier', labels: ADDON },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:node-proxier' },
      subjects: [{ kind: 'ServiceAccount', name: 'kube-proxy', namespace: NS }],
    }),
    validated(ConfigMap, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kube-proxy', namespace: NS, labels: LABELS },
      data: { 'config.conf': kubeProxyConfig(model), 'kubeconfig.conf': inClusterKubeconfig(model) },
    }),
    validated(DaemonSet, daemonSet(kubeProxyImage(model, imageRepository))),
  ];
  return header(model) + docs.map(toYaml).join('---\n');
}
