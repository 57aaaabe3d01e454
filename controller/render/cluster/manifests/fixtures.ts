import { layoutPaths, type ClusterModel, type ClusterNode, type EtcdMember } from '../model.js';
import { exampleRuntime } from '../node/fixtures.js';
import { dnsScale } from './dns.js';

const node = (name: string, ip: string): ClusterNode => ({ name, ip, hostname: `${name}.dc1.example` });
const member = (name: string, ip: string): EtcdMember => ({ ...node(name, ip), peerURL: `https://${ip}:2380`, clientURL: `https://${ip}:2379` });

/** A stacked 3-member control plane with 2 lb nodes and 20 workers; a fresh copy per call so tests can mutate it. */
export function exampleModel(): ClusterModel {
  const members = [member('m1', '10.0.0.11'), member('m2', '10.0.0.12'), member('m3', '10.0.0.13')];
  const workers = Array.from({ length: 20 }, (_, i) => node(`w${i + 1}`, `10.0.1.${i + 1}`));
  const lbNodes = [node('lb1', '10.0.0.21'), node('lb2', '10.0.0.22')];
  const nodeCount = members.length + workers.length + lbNodes.length;
  const scale = dnsScale(nodeCount);
  return {
    name: 'prod',
    version: { raw: 'v1.31.2', major: 1, minor: 31, patch: 2 },
    images: {
      etcd: 'registry.k8s.io/etcd:3.5.15-0',
      apiserver: 'registry.k8s.io/kube-apiserver:v1.31.2',
      controllerManager: 'registry.k8s.io/kube-controller-manager:v1.31.2',
      scheduler: 'registry.k8s.io/kube-scheduler:v1.31.2',
      coredns: 'registry.k8s.io/coredns/coredns:v1.11.3',
      kubedns: 'registry.k8s.io/dns/k8s-dns-kube-dns:1.22.28',
      dnsmasq: 'registry.k8s.io/dns/k8s-dns-dnsmasq-nanny:1.22.28',
      dnsSidecar: 'registry.k8s.io/dns/k8s-dns-sidecar:1.22.28',
    },
    network: {
      serviceCIDR: '10.96.0.0/12',
      podCIDR: '10.244.0.0/16',
      clusterDomain: 'cluster.local',
      firstServiceIP: '10.96.0.1',
      dnsServiceIP: '10.96.0.10',
    },
    api: { vip: '10.0.0.100', port: 6443, apiserverPort: 6444, maxRequestsInflight: 400, maxMutatingRequestsInflight: 200 },
    etcd: {
      members,
      bootstrap: { kind: 'static', initialCluster: members.map((m) => `${m.name}=${m.peerURL}`).join(',') },
      clientPort: 2379,
      peerPort: 2380,
    },
    controlPlane: members.map((m) => node(m.name, m.ip)),
    workers,
    lbNodes,
    nodeCount,
    auth: { tokenAuth: true, basicAuth: false },
    dns: { provider: 'coredns', replicas: scale.replicas, resources: scale.resources, cacheSize: 10000, forwardMax: 1000 },
    paths: layoutPaths('seed'),
    layout: 'seed',
    runtime: exampleRuntime(),
    cni: 'flannel',
    manageSystem: true,
    prune: true,
  };
}

/** The example, bootstrapping etcd from a discovery URL instead of a static member list. */
export function discoveryModel(): ClusterModel {
  const m = exampleModel();
  m.etcd.bootstrap = { kind: 'discovery', url: 'https://discovery.example:8087/v2/keys/_etcd/registry/3f2a9c' };
  return m;
}

/** The example on Kubernetes 1.18, the last release with basic auth, with basic auth on. */
export function oldModel(): ClusterModel {
  const m = exampleModel();
  m.version = { raw: 'v1.18.20', major: 1, minor: 18, patch: 20 };
  for (const key of ['apiserver', 'controllerManager', 'scheduler'] as const) m.images[key] = m.images[key].replace('v1.31.2', 'v1.18.20');
  m.images.etcd = 'registry.k8s.io/etcd:3.4.13-0';
  m.images.coredns = 'registry.k8s.io/coredns:1.7.0';
  m.auth.basicAuth = true;
  return m;
}

/** The example with the classic kube-dns + dnsmasq + sidecar addon. */
export function kubeDnsModel(): ClusterModel {
  const m = exampleModel();
  m.dns.provider = 'kube-dns';
  return m;
}

/** The example in kubeadm's layout: /etc/kubernetes/pki and /etc/kubernetes/*.conf. */
export function kubeadmModel(): ClusterModel {
  const m = exampleModel();
  m.layout = 'kubeadm';
  m.paths = layoutPaths('kubeadm');
  return m;
}
