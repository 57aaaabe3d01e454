import type { ClusterSpec } from '../../inputs/cluster.js';
import { nthIp, parseVersion } from '../../inputs/cluster.js';
import type { Inventory, InventoryNode } from '../../inputs/inventory.js';
import { dnsScale } from './manifests/dns.js';
import { kubeletPki } from './node/runtime.js';
import { layoutPaths, type ClusterModel, type ClusterNode } from './model.js';

export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;

// --max-requests-inflight grows with the fleet: the seed's default 400 for small clusters,
// and the Kubernetes scalability guidance (3000/1000) for the largest.
export function inflightFor(nodeCount: number): { read: number; mutating: number } {
  if (nodeCount <= 100) return { read: 400, mutating: 200 };
  if (nodeCount <= 500) return { read: 800, mutating: 400 };
  if (nodeCount <= 1000) return { read: 1600, mutating: 800 };
  return { read: 3000, mutating: 1000 };
}

// Image tags that ship with each Kubernetes minor (kubeadm's choices).
function defaultImages(repo: string, version: ReturnType<typeof parseVersion>): ClusterModel['images'] {
  const etcdTag = version.minor >= 29 ? '3.5.15-0' : version.minor >= 22 ? '3.5.6-0' : '3.4.13-0';
  const corednsTag = version.minor >= 29 ? 'v1.11.3' : version.minor >= 22 ? 'v1.8.6' : '1.7.0';
  const corednsPath = version.minor >= 21 ? 'coredns/coredns' : 'coredns';
  return {
    etcd: `${repo}/etcd:${etcdTag}`,
    apiserver: `${repo}/kube-apiserver:${version.raw}`,
    controllerManager: `${repo}/kube-controller-manager:${version.raw}`,
    scheduler: `${repo}/kube-scheduler:${version.raw}`,
    coredns: `${repo}/${corednsPath}:${corednsTag}`,
    kubedns: `${repo}/dns/k8s-dns-kube-dns:1.22.28`,
    dnsmasq: `${repo}/dns/k8s-dns-dnsmasq-nanny:1.22.28`,
    dnsSidecar: `${repo}/dns/k8s-dns-sidecar:1.22.28`,
  };
}

export const KUBELET_KUBECONFIG = '/etc/kubernetes/kubelet.conf';
export const KUBERNETES_APT_SOURCE = 'kubernetes';

// pkgs.k8s.io names its builds <version>-1.1 ("1.31.2-1.1").
export function kubeletPackageVersion(version: { major: number; minor: number; patch: number }): string {
  return `${version.major}.${version.minor}.${version.patch}-1.1`;
}

// Where the apt-source task puts the key: .asc for an armored key, .gpg for a binary one.
function aptKeyPath(key: Buffer): string {
  const armored = key.subarray(0, 36).toString('latin1') === '-----BEGIN PGP PUBLIC KEY BLOCK-----';
  return `/etc/apt/keyrings/${KUBERNETES_APT_SOURCE}.${armored ? 'asc' : 'gpg'}`;
}

const asNode = (n: InventoryNode): ClusterNode => ({ name: n.name, ip: n.address, hostname: n.hostname });

export function buildModel(inv: Inventory, spec: ClusterSpec): ClusterModel {
  const v = spec.value;
  const version = parseVersion(v.kubernetes.version);
  const withRole = (r: InventoryNode['roles'][number]) => inv.nodes.filter((n) => n.roles.includes(r));
  const members = withRole('etcd').map((n) => ({
    ...asNode(n),
    peerURL: `https://${n.address}:${ETCD_PEER_PORT}`,
    clientURL: `https://${n.address}:${ETCD_CLIENT_PORT}`,
  }));
  const paths = layoutPaths(v.pki.layout);
  const dnsServiceIP = v.network.dnsServiceIP ?? nthIp(v.network.serviceCIDR, 10);
  const repo = v.kubelet.repository;
  const inflight = inflightFor(inv.nodes.length);
  const scale = dnsScale(inv.nodes.length);
  return {
    name: v.name ?? inv.cluster,
    version,
    images: { ...defaultImages(v.kubernetes.imageRepository, version), ...v.kubernetes.images },
    network: {
      serviceCIDR: v.network.serviceCIDR,
      podCIDR: v.network.podCIDR,
      clusterDomain: v.network.clusterDomain,
      firstServiceIP: nthIp(v.network.serviceCIDR, 1),
      dnsServiceIP,
    },
    api: {
      vip: v.api.vip,
      port: v.api.port,
      apiserverPort: v.api.apiserverPort,
      maxRequestsInflight: v.api.maxRequestsInflight ?? inflight.read,
      maxMutatingRequestsInflight: v.api.maxMutatingRequestsInflight ?? inflight.mutating,
    },
    etcd: {
      members,
      bootstrap: v.etcd.discovery
        ? { kind: 'discovery', url: v.etcd.discovery }
        : { kind: 'static', initialCluster: members.map((m) => `${m.name}=${m.peerURL}`).join(',') },
      clientPort: ETCD_CLIENT_PORT,
      peerPort: ETCD_PEER_PORT,
    },
    controlPlane: withRole('control-plane').map(asNode),
    workers: withRole('worker').map(asNode),
    lbNodes: withRole('lb').map(asNode),
    nodeCount: inv.nodes.length,
    auth: { tokenAuth: v.authentication.tokens.length > 0, basicAuth: v.authentication.basicAuth.length > 0 },
    dns: {
      provider: v.dns.provider,
      replicas: v.dns.replicas ?? scale.replicas,
      resources: scale.resources,
      cacheSize: v.dns.cacheSize,
      forwardMax: v.dns.forwardMax,
    },
    paths,
    layout: v.pki.layout,
    runtime: {
      clusterName: v.name ?? inv.cluster,
      kubernetesVersion: version.raw,
      containerd: { ...v.runtime.containerd, socket: '/run/containerd/containerd.sock' },
      kubelet: {
        repository: repo && { url: repo.url, suite: repo.suite, components: repo.components, keyFile: aptKeyPath(spec.repositoryKey!), key: spec.repositoryKey! },
        packageVersion: v.kubelet.packageVersion ?? kubeletPackageVersion(version),
        staticPodPath: paths.manifests,
        clusterDNS: dnsServiceIP,
        clusterDomain: v.network.clusterDomain,
        clientCAFile: kubeletPki('ca.crt'),
        kubeconfig: KUBELET_KUBECONFIG,
        configPath: '/var/lib/kubelet/config.yaml',
        servingCertFile: kubeletPki('kubelet.crt'),
        servingKeyFile: kubeletPki('kubelet.key'),
        maxPods: v.kubelet.maxPods,
      },
    },
    cni: v.cni.plugin,
    manageSystem: v.system.manage,
    prune: v.prune,
  };
}
