import { isIPv6 } from 'node:net';
import { FILES, type ClusterModel, type ClusterNode } from '../model.js';
import { assertControlPlane, electedComponentFlags, flags, outsideSrvMount, renderStaticPod, srvFile, srvMount } from './pod.js';

/** kube-controller-manager's secure port; the probe and --secure-port must agree. */
export const CONTROLLER_MANAGER_SECURE_PORT = 10257;

/** The kube-controller-manager defaults for --node-cidr-mask-size: a /24 (IPv4) or /64 (IPv6) per node. */
const NODE_MASK = { ipv4: 24, ipv6: 64 };

/** How many nodes can get a pod CIDR out of podCIDR at the default per-node mask. */
export function podCidrNodeCapacity(podCIDR: string): number {
  const [address, prefixText] = podCIDR.split('/');
  const prefix = Number(prefixText);
  const nodeMask = isIPv6(address ?? '') ? NODE_MASK.ipv6 : NODE_MASK.ipv4;
  if (!Number.isInteger(prefix) || prefix > nodeMask) return 0;
  return 2 ** (nodeMask - prefix);
}

function assertPodCidrFits(model: ClusterModel): void {
  // Kubelets run on control-plane and worker nodes; lb-only nodes never ask for a pod CIDR.
  const kubelets = new Set([...model.controlPlane, ...model.workers].map((n) => n.name)).size;
  const capacity = podCidrNodeCapacity(model.network.podCIDR);
  if (kubelets > capacity) {
    throw new Error(
      `kube-controller-manager: podCIDR ${model.network.podCIDR} holds ${capacity} node subnets at the default mask, but cluster ${model.name} has ${kubelets} nodes; nodes past that would never get a pod CIDR`,
    );
  }
}

/** kube-controller-manager on one control-plane node; leader election makes the others hot standbys. */
export function renderControllerManager(model: ClusterModel, node: ClusterNode): string {
  assertControlPlane(model, node, 'kube-controller-manager');
  assertPodCidrFits(model);
  const command = [
    'kube-controller-manager',
    // The controller-manager's insecure 10252 listener was removed in 1.22.
    ...electedComponentFlags(model, FILES.controllerManagerKubeconfig, CONTROLLER_MANAGER_SECURE_PORT, 22),
    ...flags([
      ['cluster-name', model.name],
      ['cluster-cidr', model.network.podCIDR],
      ['allocate-node-cidrs', true],
      ['service-cluster-ip-range', model.network.serviceCIDR],
      ['service-account-private-key-file', srvFile(model, FILES.serviceAccountKey)],
      ['root-ca-file', srvFile(model, FILES.ca)],
      // No --cluster-signing-*: the cluster CA key never leaves the muster controller, which issues every certificate itself.
      ['use-service-account-credentials', true],
      ['controllers', '*,bootstrapsigner,tokencleaner'],
    ]),
  ];
  return renderStaticPod(model, {
    component: 'kube-controller-manager',
    image: model.images.controllerManager,
    command,
    requests: { cpu: '200m' },
    health: { port: CONTROLLER_MANAGER_SECURE_PORT, scheme: 'HTTPS', liveness: '/healthz' },
    mounts: [srvMount(model), ...outsideSrvMount(model, 'kubeconfig', FILES.controllerManagerKubeconfig)],
  });
}
