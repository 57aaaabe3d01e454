import type { RuntimeModel } from './node/runtime.js';

// The resolved cluster: everything the manifest and file renderers need, with every default
// filled in. Built from the inventory and the cluster spec by controller/inputs/cluster.ts.

export interface KubeVersion {
  raw: string; // "v1.31.2"
  major: number;
  minor: number;
  patch: number;
}

export interface ClusterNode {
  name: string;
  ip: string;
  hostname: string;
}

export interface EtcdMember extends ClusterNode {
  peerURL: string; // https://<ip>:2380
  clientURL: string; // https://<ip>:2379
}

export type EtcdBootstrap =
  | { kind: 'static'; initialCluster: string } // "m1=https://10.0.0.11:2380,..."
  | { kind: 'discovery'; url: string };

export interface Resources {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
}

// Host paths the manifests mount and reference; the PKI and file renderers write them.
export interface ClusterPaths {
  manifests: string; // /etc/kubernetes/manifests
  addons: string; // /etc/kubernetes/addons
  srv: string; // /srv/kubernetes: ca.crt, server.cert, server.key, kubecfg.*, known_tokens.csv, basic_auth.csv, sa.key, sa.pub, ...
  etcdPki: string; // /etc/kubernetes/pki/etcd: ca.crt, server.crt, server.key, peer.crt, peer.key
  etcdData: string; // /var/lib/etcd
  // Where a layout keeps a file of FILES elsewhere than paths.srv/<name> (kubeadm: /etc/kubernetes/pki/apiserver.crt, ...).
  files: Partial<Record<string, string>>;
}

export type PkiLayout = 'seed' | 'kubeadm';

// File names inside paths.srv and paths.etcdPki that the manifests reference.
export const FILES = {
  ca: 'ca.crt',
  apiserverCert: 'server.cert',
  apiserverKey: 'server.key',
  kubecfgCert: 'kubecfg.crt',
  kubecfgKey: 'kubecfg.key',
  knownTokens: 'known_tokens.csv',
  basicAuth: 'basic_auth.csv',
  serviceAccountKey: 'sa.key',
  serviceAccountPub: 'sa.pub',
  apiserverEtcdClientCert: 'apiserver-etcd-client.crt',
  apiserverEtcdClientKey: 'apiserver-etcd-client.key',
  apiserverKubeletClientCert: 'apiserver-kubelet-client.crt',
  apiserverKubeletClientKey: 'apiserver-kubelet-client.key',
  etcdCa: 'etcd-ca.crt', // in paths.srv: the etcd CA, for the apiserver's --etcd-cafile
  schedulerKubeconfig: 'scheduler.kubeconfig',
  controllerManagerKubeconfig: 'controller-manager.kubeconfig',
  // in paths.etcdPki
  etcdPkiCa: 'ca.crt',
  etcdServerCert: 'server.crt',
  etcdServerKey: 'server.key',
  etcdPeerCert: 'peer.crt',
  etcdPeerKey: 'peer.key',
  frontProxyCa: 'front-proxy-ca.crt',
  frontProxyClientCert: 'front-proxy-client.crt',
  frontProxyClientKey: 'front-proxy-client.key',
  addonManagerKubeconfig: 'addon-manager.kubeconfig',
  adminKubeconfig: 'admin.conf',
} as const;

const KUBEADM_PKI = '/etc/kubernetes/pki';
// kubeadm's names for the seed's files (kubeadm's "certs" and "kubeconfig" phases).
export const KUBEADM_FILES: Partial<Record<string, string>> = {
  [FILES.apiserverCert]: `${KUBEADM_PKI}/apiserver.crt`,
  [FILES.apiserverKey]: `${KUBEADM_PKI}/apiserver.key`,
  [FILES.etcdCa]: `${KUBEADM_PKI}/etcd/ca.crt`,
  [FILES.schedulerKubeconfig]: '/etc/kubernetes/scheduler.conf',
  [FILES.controllerManagerKubeconfig]: '/etc/kubernetes/controller-manager.conf',
  [FILES.addonManagerKubeconfig]: '/etc/kubernetes/addon-manager.conf',
  [FILES.adminKubeconfig]: '/etc/kubernetes/admin.conf',
};

export function layoutPaths(layout: PkiLayout): ClusterPaths {
  return {
    manifests: '/etc/kubernetes/manifests',
    addons: '/etc/kubernetes/addons',
    srv: layout === 'kubeadm' ? KUBEADM_PKI : '/srv/kubernetes',
    etcdPki: '/etc/kubernetes/pki/etcd',
    etcdData: '/var/lib/etcd',
    files: layout === 'kubeadm' ? KUBEADM_FILES : {},
  };
}

export interface ClusterModel {
  name: string;
  version: KubeVersion;
  images: {
    etcd: string;
    apiserver: string;
    controllerManager: string;
    scheduler: string;
    coredns: string;
    kubedns: string;
    dnsmasq: string;
    dnsSidecar: string;
  };
  network: {
    serviceCIDR: string; // 10.96.0.0/12
    podCIDR: string; // 10.244.0.0/16
    clusterDomain: string; // cluster.local
    firstServiceIP: string; // 10.96.0.1: the kubernetes Service
    dnsServiceIP: string; // 10.96.0.10
  };
  api: {
    vip: string;
    port: number; // the load balancer's port at the VIP
    apiserverPort: number; // each kube-apiserver's --secure-port
    maxRequestsInflight: number; // seed: 400 by default, more for large clusters
    maxMutatingRequestsInflight: number;
  };
  etcd: {
    members: EtcdMember[];
    bootstrap: EtcdBootstrap;
    clientPort: number; // 2379
    peerPort: number; // 2380
  };
  controlPlane: ClusterNode[];
  workers: ClusterNode[];
  lbNodes: ClusterNode[];
  nodeCount: number; // every node in the inventory
  auth: {
    tokenAuth: boolean; // --token-auth-file (known_tokens.csv)
    basicAuth: boolean; // --basic-auth-file (basic_auth.csv); only before 1.19
  };
  dns: {
    provider: 'coredns' | 'kube-dns';
    replicas: number;
    resources: Resources;
    cacheSize: number; // dnsmasq --cache-size (seed: 10000)
    forwardMax: number; // dnsmasq --dns-forward-max (seed: 1000)
  };
  paths: ClusterPaths;
  layout: PkiLayout;
  // What every node runs under the static pods: containerd, the kubelet and its settings.
  runtime: RuntimeModel;
  cni: 'flannel' | 'none';
  // false: only config files; packages, services and kernel settings are the operator's.
  manageSystem: boolean;
  // false: what leaves a node's plan stays on the host (Plan.keep_removed).
  prune: boolean;
}
