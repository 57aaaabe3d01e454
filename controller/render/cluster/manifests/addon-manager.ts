// The addon manager: a static pod on every control-plane node that keeps the files in
// paths.addons applied (kubectl apply --prune on the Reconcile label), so DNS, kube-proxy and
// the CNI reach the cluster without the controller, and come back if someone deletes them.
import { Pod, type IPod } from 'kubernetes-models/v1/Pod';
import { FILES, type ClusterModel } from '../model.js';
import { header, outsideSrvMount, srvFile, toYaml, validated } from './pod.js';

export const ADDON_MANAGER_IMAGE = 'registry.k8s.io/addon-manager/kube-addon-manager:v9.1.8';
export const ADDON_MANAGER_KUBECONFIG = FILES.addonManagerKubeconfig;

/** kube-addon-manager on the host network, reading paths.addons with its own kubeconfig. */
export function renderAddonManager(model: ClusterModel, image = ADDON_MANAGER_IMAGE): string {
  const kubeconfig = srvFile(model, ADDON_MANAGER_KUBECONFIG);
  const outside = outsideSrvMount(model, 'kubeconfig', ADDON_MANAGER_KUBECONFIG);
  const pod = validated<IPod>(Pod, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'kube-addon-manager', namespace: 'kube-system', labels: { component: 'kube-addon-manager', tier: 'control-plane' } },
    spec: {
      hostNetwork: true,
      priorityClassName: 'system-node-critical',
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'kube-addon-manager',
          image,
          imagePullPolicy: 'IfNotPresent',
          // The manager's script passes KUBECTL_OPTS to every kubectl call; ADDON_PATH is where it looks.
          env: [
            { name: 'KUBECTL_OPTS', value: `--kubeconfig=${kubeconfig}` },
            { name: 'ADDON_PATH', value: model.paths.addons },
          ],
          resources: { requests: { cpu: '5m', memory: '50Mi' } },
          volumeMounts: [
            { name: 'addons', mountPath: model.paths.addons, readOnly: true },
            { name: 'srv-kubernetes', mountPath: model.paths.srv, readOnly: true },
            ...outside.map((m) => ({ name: m.name, mountPath: m.path, readOnly: true })),
          ],
        },
      ],
      volumes: [
        { name: 'addons', hostPath: { path: model.paths.addons, type: 'DirectoryOrCreate' } },
        { name: 'srv-kubernetes', hostPath: { path: model.paths.srv, type: 'Directory' } },
        ...outside.map((m) => ({ name: m.name, hostPath: { path: m.path, type: m.type } })),
      ],
    },
  });
  return header(model) + toYaml(pod);
}
