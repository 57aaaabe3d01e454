import type { RuntimeModel } from './runtime.js';

/** A node runtime for the example cluster; a fresh copy per call. */
export function exampleRuntime(): RuntimeModel {
  return {
    clusterName: 'prod',
    kubernetesVersion: 'v1.31.2',
    containerd: { package: 'containerd', sandboxImage: 'registry.k8s.io/pause:3.10', socket: '/run/containerd/containerd.sock' },
    kubelet: {
      repository: { url: 'https://pkgs.k8s.io/core:/stable:/v1.31/deb/', suite: '/', components: [], keyFile: '/etc/apt/keyrings/kubernetes.asc', key: new TextEncoder().encode('KEY') },
      packageVersion: '1.31.2-1.1',
      staticPodPath: '/etc/kubernetes/manifests',
      clusterDNS: '10.96.0.10',
      clusterDomain: 'cluster.local',
      clientCAFile: '/var/lib/kubelet/pki/ca.crt',
      kubeconfig: '/etc/kubernetes/kubelet.conf',
      configPath: '/var/lib/kubelet/config.yaml',
      servingCertFile: '/var/lib/kubelet/pki/kubelet.crt',
      servingKeyFile: '/var/lib/kubelet/pki/kubelet.key',
      maxPods: 110,
    },
  };
}
