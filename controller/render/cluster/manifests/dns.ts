// The cluster DNS addon (CoreDNS, or the classic kube-dns + dnsmasq + sidecar) and its sizing curve.
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { ClusterRole, type IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding, type IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IContainerPort } from 'kubernetes-models/v1/ContainerPort';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import { ServiceAccount, type IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { ClusterModel, Resources } from '../model.js';
import { atLeast, header, toYaml, validated } from './pod.js';

// Sizing curve for cluster DNS, by the number of nodes in the inventory:
//   replicas = min(6, max(2, ceil(nodes / 16)))   one replica per 16 nodes, the cluster-proportional-autoscaler
//                                                  default for DNS; never fewer than 2 (no single point of failure),
//                                                  never more than the seed's large-cluster figure of 6
//   nodes <= 16: limits 100m / 170Mi, requests 70m / 70Mi   (upstream kube-dns defaults)
//   nodes >  16: limits 100m / 512Mi, requests 70m / 70Mi   (the seed's large-cluster numbers: the Service and
//                                                            Endpoints caches grow with the cluster)
//   e.g. 10 nodes: 2 small | 100: 6 large | 200, 1000, 5000: 6 large (cap; override dns.replicas past that)
export const DNS_NODES_PER_REPLICA = 16;
export const DNS_MIN_REPLICAS = 2;
export const DNS_MAX_REPLICAS = 6;
export const DNS_SMALL_CLUSTER_NODES = 16;

/** DNS replicas and per-replica resources for a cluster of nodeCount nodes (see the curve above). */
export function dnsScale(nodeCount: number): { replicas: number; resources: Resources } {
  if (!Number.isInteger(nodeCount) || nodeCount < 0) throw new Error(`dns: node count must be a non-negative integer, got ${nodeCount}`);
  const replicas = Math.min(DNS_MAX_REPLICAS, Math.max(DNS_MIN_REPLICAS, Math.ceil(nodeCount / DNS_NODES_PER_REPLICA)));
  const memoryLimit = nodeCount <= DNS_SMALL_CLUSTER_NODES ? '170Mi' : '512Mi';
  return { replicas, resources: { requests: { cpu: '70m', memory: '70Mi' }, limits: { cpu: '100m', memory: memoryLimit } } };
}

const NAMESPACE = 'kube-system';
// The Service keeps the kube-dns name for either provider: kubelets and tooling look it up by that name.
const SERVICE_NAME = 'kube-dns';
const APP = { 'k8s-app': 'kube-dns' };
// Lets kube-addon-manager, if the operator runs one on paths.addons, keep these objects as written.
const ADDON = { 'addonmanager.kubernetes.io/mode': 'Reconcile' };

/** What differs between the two providers; everything else is shared. */
interface Provider {
  name: string; // ServiceAccount, ClusterRole, Deployment and ConfigMap name
  label: string; // kubernetes.io/name on the Service
  metricsPort: number; // container port the Service's metrics port targets
  containers: IContainer[];
  volumes: IVolume[];
  configMap?: IConfigMap;
}

function meta(name: string, extra: Record<string, string> = {}) {
  return { name, namespace: NAMESPACE, labels: { ...APP, ...extra, ...ADDON } };
}

// Upstream kube-dns and CoreDNS probe timings: a minute to load the caches, then five 10 s misses before a restart.
function liveness(path: string, port: number): IProbe {
  return { httpGet: { path, port, scheme: 'HTTP' }, initialDelaySeconds: 60, timeoutSeconds: 5, successThreshold: 1, failureThreshold: 5 };
}

function readiness(path: string, port: number): IProbe {
  return { httpGet: { path, port, scheme: 'HTTP' }, initialDelaySeconds: 3, periodSeconds: 10, timeoutSeconds: 5 };
}

const dnsPorts = (): IContainerPort[] => [
  { name: 'dns', containerPort: 53, protocol: 'UDP' },
  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
];

function resources(r: Resources): IContainer['resources'] {
  return { limits: { ...r.limits }, requests: { ...r.requests } };
}

/** The Corefile: the seed's dnsmasq cache size and forward limit carried over to their CoreDNS equivalents. */
export function corefile(model: ClusterModel): string {
  const { clusterDomain } = model.network;
  return [
    '.:53 {',
    '    errors',
    '    health {',
    '        lameduck 5s',
    '    }',
    '    ready',
    `    kubernetes ${clusterDomain} in-addr.arpa ip6.arpa {`,
    '        pods insecure',
    '        fallthrough in-addr.arpa ip6.arpa',
    '        ttl 30',
    '    }',
    '    prometheus :9153',
    '    forward . /etc/resolv.conf {',
    `        max_concurrent ${model.dns.forwardMax}`,
    '    }',
    '    cache 30 {',
    `        success ${model.dns.cacheSize}`,
    '    }',
    '    loop',
    '    reload',
    '    loadbalance',
    '}',
    '',
  ].join('\n');
}

function coredns(model: ClusterModel): Provider {
  const name = 'coredns';
  return {
    name,
    label: 'CoreDNS',
    metricsPort: 9153,
    containers: [
      {
        name,
        image: model.images.coredns,
        imagePullPolicy: 'IfNotPresent',
        args: ['-conf', '/etc/coredns/Corefile'],
        resources: resources(model.dns.resources),
        volumeMounts: [{ name: 'config-volume', mountPath: '/etc/coredns', readOnly: true }],
        ports: [...dnsPorts(), { name: 'metrics', containerPort: 9153, protocol: 'TCP' }],
        livenessProbe: liveness('/health', 8080),
        readinessProbe: readiness('/ready', 8181),
        securityContext: {
          allowPrivilegeEscalation: false,
          capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] },
          readOnlyRootFilesystem: true,
        },
      },
    ],
    volumes: [{ name: 'config-volume', configMap: { name, items: [{ key: 'Corefile', path: 'Corefile' }] } }],
    configMap: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(name),
      data: { Corefile: corefile(model) },
    },
  };
}

// kube-dns answers on 10053 behind dnsmasq; the sidecar serves both health checks and dnsmasq's metrics on 10054.
const KUBEDNS_PORT = 10053;
const SIDECAR_PORT = 10054;
const KUBEDNS_CONFIG = 'kube-dns-config';
// The classic images run as this unprivileged user.
const NONROOT = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsUser: 1001, runAsGroup: 1001 };

function kubeDns(model: ClusterModel): Provider {
  const domain = model.network.clusterDomain;
  const local = `127.0.0.1#${KUBEDNS_PORT}`;
  const probe = (target: string, port: number): string => `--probe=${target},127.0.0.1:${port},kubernetes.default.svc.${domain},5,SRV`;
  return {
    name: 'kube-dns',
    label: 'KubeDNS',
    metricsPort: SIDECAR_PORT,
    containers: [
      {
        name: 'kubedns',
        image: model.images.kubedns,
        imagePullPolicy: 'IfNotPresent',
        args: [`--domain=${domain}.`, `--dns-port=${KUBEDNS_PORT}`, '--config-dir=/kube-dns-config', '--v=2'],
        env: [{ name: 'PROMETHEUS_PORT', value: '10055' }],
        resources: resources(model.dns.resources),
        ports: [
          { name: 'dns-local', containerPort: KUBEDNS_PORT, protocol: 'UDP' },
          { name: 'dns-tcp-local', containerPort: KUBEDNS_PORT, protocol: 'TCP' },
          { name: 'kubedns-metrics', containerPort: 10055, protocol: 'TCP' },
        ],
        livenessProbe: liveness('/healthcheck/kubedns', SIDECAR_PORT),
        readinessProbe: readiness('/readiness', 8081),
        volumeMounts: [{ name: KUBEDNS_CONFIG, mountPath: '/kube-dns-config' }],
        securityContext: NONROOT,
      },
      {
        name: 'dnsmasq',
        image: model.images.dnsmasq,
        imagePullPolicy: 'IfNotPresent',
        args: [
          '-v=2',
          '-logtostderr',
          '-configDir=/etc/k8s/dns/dnsmasq-nanny',
          '-restartDnsmasq=true',
          '--', // everything after this goes to dnsmasq itself
          '-k',
          `--cache-size=${model.dns.cacheSize}`,
          `--dns-forward-max=${model.dns.forwardMax}`,
          // kube-dns answers NXDOMAIN for names that may exist a moment later; caching that would hide new Services.
          '--no-negcache',
          '--dns-loop-detect',
          '--log-facility=-',
          `--server=/${domain}/${local}`,
          `--server=/in-addr.arpa/${local}`,
          `--server=/ip6.arpa/${local}`,
        ],
        resources: { requests: { cpu: '150m', memory: '20Mi' } },
        ports: dnsPorts(),
        livenessProbe: liveness('/healthcheck/dnsmasq', SIDECAR_PORT),
        volumeMounts: [{ name: KUBEDNS_CONFIG, mountPath: '/etc/k8s/dns/dnsmasq-nanny' }],
        securityContext: { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE', 'SETGID'] } },
      },
      {
        name: 'sidecar',
        image: model.images.dnsSidecar,
        imagePullPolicy: 'IfNotPresent',
        args: ['--v=2', '--logtostderr', probe('kubedns', KUBEDNS_PORT), probe('dnsmasq', 53)],
        resources: { requests: { cpu: '10m', memory: '20Mi' } },
        ports: [{ name: 'metrics', containerPort: SIDECAR_PORT, protocol: 'TCP' }],
        livenessProbe: liveness('/metrics', SIDECAR_PORT),
        securityContext: NONROOT,
      },
    ],
    // Optional and not rendered: operators keep stubDomains there, and a converge must not overwrite them.
    volumes: [{ name: KUBEDNS_CONFIG, configMap: { name: 'kube-dns', optional: true } }],
  };
}

function deployment(model: ClusterModel, p: Provider): IDeployment {
  const seccompField = atLeast(model.version, 19);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(p.name),
    spec: {
      replicas: model.dns.replicas,
      // One replica down at a time keeps the rest answering through a rollout.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      selector: { matchLabels: { ...APP } },
      template: {
        metadata: {
          labels: { ...APP },
          annotations: seccompField ? undefined : { 'seccomp.security.alpha.kubernetes.io/pod': 'runtime/default' },
        },
        spec: {
          serviceAccountName: p.name,
          priorityClassName: 'system-cluster-critical',
          // Upstream DNS from the node, not from the cluster DNS this pod is.
          dnsPolicy: 'Default',
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          tolerations: [
            { key: 'CriticalAddonsOnly', operator: 'Exists' },
            { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' },
            { key: 'node-role.kubernetes.io/master', effect: 'NoSchedule' },
          ],
          affinity: {
            podAntiAffinity: {
              // Preferred, not required: a rollout or a small cluster may need two replicas on one node for a while.
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  weight: 100,
                  podAffinityTerm: {
                    labelSelector: { matchExpressions: [{ key: 'k8s-app', operator: 'In', values: ['kube-dns'] }] },
                    topologyKey: 'kubernetes.io/hostname',
                  },
                },
              ],
            },
          },
          securityContext: seccompField ? { seccompProfile: { type: 'RuntimeDefault' } } : undefined,
          containers: p.containers,
          volumes: p.volumes,
        },
      },
    },
  };
}

function service(model: ClusterModel, p: Provider): IService {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      ...meta(SERVICE_NAME, { 'kubernetes.io/name': p.label }),
      annotations: { 'prometheus.io/port': String(p.metricsPort), 'prometheus.io/scrape': 'true' },
    },
    spec: {
      selector: { ...APP },
      clusterIP: model.network.dnsServiceIP,
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
        { name: 'metrics', port: 9153, protocol: 'TCP', targetPort: p.metricsPort },
      ],
    },
  };
}

function rbac(p: Provider): [IServiceAccount, IClusterRole, IClusterRoleBinding] {
  const role = `system:${p.name}`;
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(p.name) },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: role, labels: { ...APP, ...ADDON } },
      rules: [
        { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: role, labels: { ...APP, ...ADDON } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [{ kind: 'ServiceAccount', name: p.name, namespace: NAMESPACE }],
    },
  ];
}

/** Every object the DNS addon needs, as one multi-document YAML file for kube-system. */
export function renderDnsAddon(model: ClusterModel): string {
  const p = model.dns.provider === 'kube-dns' ? kubeDns(model) : coredns(model);
  const [sa, role, binding] = rbac(p);
  const docs = [
    validated(ServiceAccount, sa),
    validated(ClusterRole, role),
    validated(ClusterRoleBinding, binding),
    ...(p.configMap ? [validated(ConfigMap, p.configMap)] : []),
    validated(Deployment, deployment(model, p)),
    validated(Service, service(model, p)),
  ];
  return header(model) + docs.map(toYaml).join('---\n');
}
