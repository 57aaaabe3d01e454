import { FILES, type ClusterModel, type ClusterNode } from '../model.js';
import { assertControlPlane, electedComponentFlags, renderStaticPod, srvFile } from './pod.js';

/** kube-scheduler's secure port; the probe and --secure-port must agree. */
export const SCHEDULER_SECURE_PORT = 10259;

/** kube-scheduler on one control-plane node; leader election makes the others hot standbys. */
export function renderScheduler(model: ClusterModel, node: ClusterNode): string {
  assertControlPlane(model, node, 'kube-scheduler');
  return renderStaticPod(model, {
    component: 'kube-scheduler',
    image: model.images.scheduler,
    // The scheduler's insecure 10251 listener was removed in 1.23.
    command: ['kube-scheduler', ...electedComponentFlags(model, FILES.schedulerKubeconfig, SCHEDULER_SECURE_PORT, 23)],
    requests: { cpu: '100m' },
    health: { port: SCHEDULER_SECURE_PORT, scheme: 'HTTPS', liveness: '/healthz' },
    // Only its kubeconfig, which embeds its credentials: the scheduler has no business reading sa.key or server.key.
    mounts: [{ name: 'kubeconfig', path: srvFile(model, FILES.schedulerKubeconfig), type: 'File', readOnly: true }],
  });
}
