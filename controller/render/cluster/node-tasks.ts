import { PackageState, ServiceEnablement, ServiceRunState } from '../../../proto/gen/muster/agent/v1/system.js';
import type { Handler, Task } from '../../../proto/gen/muster/agent/v1/tasks.js';
import type { InventoryNode } from '../../inputs/inventory.js';
import type { DraftTask } from '../draft.js';
import { KUBERNETES_APT_SOURCE } from './build-model.js';
import type { ClusterContext } from './context.js';
import { renderKubeconfig } from './kubeconfig.js';
import {
  KERNEL_MODULES,
  KERNEL_SYSCTLS,
  KUBELET_DROPIN,
  MODULES_FILE,
  SYSCTL_FILE,
  kubeletPki,
  renderContainerdConfig,
  renderCrictlConfig,
  renderKubeletConfig,
  renderKubeletDropIn,
} from './node/runtime.js';

// What every node runs under its static pods, in the order it applies: the kernel settings the
// runtime needs, containerd, the kubelet's package, certificates and configuration, its service.

export const CONTAINERD_CONFIG = '/etc/containerd/config.toml';
export const CONTAINERD_CHECK = ['containerd', '--config', '{}', 'config', 'dump'];

export const pkg = (id: string, name: string, version = '', hold = false, aptSource = ''): Task => ({
  id,
  notify: [],
  package: { name, version, hold, state: PackageState.PACKAGE_STATE_PRESENT, aptSource },
});

export const running = (id: string, name: string): Task => ({
  id,
  notify: [],
  service: { name, enablement: ServiceEnablement.SERVICE_ENABLEMENT_ENABLED, state: ServiceRunState.SERVICE_RUN_STATE_STARTED },
});

export function nodeHandlers({ spec }: ClusterContext): Handler[] {
  const restart = spec.value.runtime.restart;
  return [
    { id: 'restart-containerd', command: restart.containerd ?? ['systemctl', 'restart', 'containerd'], timeoutMs: 120_000 },
    { id: 'restart-kubelet', command: restart.kubelet ?? ['systemctl', 'restart', 'kubelet'], timeoutMs: 120_000 },
  ];
}

export function nodeTasks(c: ClusterContext, n: InventoryNode): DraftTask[] {
  const { m } = c;
  const rt = m.runtime;
  const sys = m.manageSystem;
  const repo = rt.kubelet.repository;
  const sourcePath = `/etc/apt/sources.list.d/${KUBERNETES_APT_SOURCE}.sources`;
  const kubeconfig = renderKubeconfig({
    cluster: m.name,
    server: c.server,
    user: `system:node:${n.name}`,
    ca: { file: kubeletPki('ca.crt') },
    client: { certFile: kubeletPki('kubelet-client.crt'), keyFile: kubeletPki('kubelet-client.key') },
  });
  const restartKubelet = ['restart-kubelet'];
  return [
    // bridge-nf-call-* exist only once br_netfilter is loaded: modules before sysctl.
    ...(sys
      ? [
          { id: 'kernel-modules', notify: [], kernelModule: { names: [...KERNEL_MODULES], file: MODULES_FILE } },
          { id: 'kernel-sysctl', notify: [], sysctl: { settings: { ...KERNEL_SYSCTLS }, file: SYSCTL_FILE } },
          { id: 'swap-off', notify: [], swap: { fstab: '' } },
          pkg('containerd-package', rt.containerd.package, rt.containerd.version ?? '', !!rt.containerd.version),
        ]
      : []),
    // The check needs the containerd binary: only where muster installed it just before.
    c.file('containerd-config', CONTAINERD_CONFIG, renderContainerdConfig(rt), 0o644, false, ['restart-containerd'], sys ? CONTAINERD_CHECK : undefined),
    ...(sys ? [running('containerd-service', 'containerd')] : []),
    c.file('crictl-config', '/etc/crictl.yaml', renderCrictlConfig(rt), 0o644),
    ...(sys && repo
      ? [{ id: 'kubernetes-apt-source', notify: [], aptSource: { name: KUBERNETES_APT_SOURCE, uris: [repo.url], suites: [repo.suite], components: repo.components, key: Buffer.from(repo.key), architectures: [] } }]
      : []),
    // Held: an apt-get upgrade never moves the kubelet past the control plane's version.
    ...(sys ? [pkg('kubelet-package', 'kubelet', rt.kubelet.packageVersion, true, repo ? sourcePath : '')] : []),
    // crictl: the static-pods probe reads which manifest each running pod was started from through it.
    ...(sys && repo ? [pkg('cri-tools-package', 'cri-tools', '', false, sourcePath)] : []),
    c.cert('kubelet-client-cert', `kubelet/${n.name}`, kubeletPki('kubelet-client.crt'), kubeletPki('kubelet-client.key'), 'ca', rt.kubelet.clientCAFile, restartKubelet),
    c.cert('kubelet-serving-cert', `kubelet-serving/${n.name}`, rt.kubelet.servingCertFile, rt.kubelet.servingKeyFile, 'ca', '', restartKubelet),
    c.file('kubelet-kubeconfig', rt.kubelet.kubeconfig, kubeconfig, 0o600, false, restartKubelet),
    c.file('kubelet-config', rt.kubelet.configPath, renderKubeletConfig(rt), 0o644, false, restartKubelet),
    // The service kind runs daemon-reload when systemd says the unit changed on disk.
    c.file('kubelet-dropin', KUBELET_DROPIN, renderKubeletDropIn(rt, { name: n.name, ip: n.address }), 0o644, false, restartKubelet),
    ...(sys ? [running('kubelet-service', 'kubelet')] : []),
  ];
}
