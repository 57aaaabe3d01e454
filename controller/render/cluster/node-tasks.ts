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

export function nodeHandlers(c: ClusterContext): Handler[] {
  return c.shared('node-handlers', () => {
    const restart = c.spec.value.runtime.restart;
    return [
      { id: 'restart-containerd', command: restart.containerd ?? ['systemctl', 'restart', 'containerd'], timeoutMs: 120_000 },
      { id: 'restart-kubelet', command: restart.kubelet ?? ['systemctl', 'restart', 'kubelet'], timeoutMs: 120_000 },
    ];
  });
}

const restartKubelet = ['restart-kubelet'];

// Every node's tasks but its own certificates, kubeconfig and drop-in: rendered once per cluster.
function sharedNodeTasks(c: ClusterContext): { head: Task[]; kubeletConfig: Task; tail: Task[] } {
  const { m } = c;
  const rt = m.runtime;
  const sys = m.manageSystem;
  const repo = rt.kubelet.repository;
  const sourcePath = `/etc/apt/sources.list.d/${KUBERNETES_APT_SOURCE}.sources`;
  return {
    head: [
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
    ],
    kubeletConfig: c.file('kubelet-config', rt.kubelet.configPath, renderKubeletConfig(rt), 0o644, false, restartKubelet),
    tail: sys ? [running('kubelet-service', 'kubelet')] : [],
  };
}

// The kubelet's kubeconfig differs between nodes only in the user's name: one YAML rendering
// with a stand-in name, then the node's name in its place. A DNS name (the inventory allows no
// other) is written by YAML as it is, in the stand-in's place; anything else is rendered in full.
const STAND_IN = 'muster-stand-in-node';
const DNS_NAME = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

function kubeletKubeconfig(c: ClusterContext, n: InventoryNode): string {
  const render = (name: string) =>
    renderKubeconfig({
      cluster: c.m.name,
      server: c.server,
      user: `system:node:${name}`,
      ca: { file: kubeletPki('ca.crt') },
      client: { certFile: kubeletPki('kubelet-client.crt'), keyFile: kubeletPki('kubelet-client.key') },
    });
  const template = c.shared('kubelet-kubeconfig', () => render(STAND_IN));
  // Four places name the user: the user's entry, the context's name and user, current-context.
  if (!DNS_NAME.test(n.name) || !DNS_NAME.test(c.m.name) || template.split(STAND_IN).length !== 5) return render(n.name);
  return template.replaceAll(STAND_IN, n.name);
}

export function nodeTasks(c: ClusterContext, n: InventoryNode): DraftTask[] {
  const rt = c.m.runtime;
  const shared = c.shared('node-tasks', () => sharedNodeTasks(c));
  return [
    ...shared.head,
    c.cert('kubelet-client-cert', `kubelet/${n.name}`, kubeletPki('kubelet-client.crt'), kubeletPki('kubelet-client.key'), 'ca', rt.kubelet.clientCAFile, restartKubelet),
    c.cert('kubelet-serving-cert', `kubelet-serving/${n.name}`, rt.kubelet.servingCertFile, rt.kubelet.servingKeyFile, 'ca', '', restartKubelet),
    c.file('kubelet-kubeconfig', rt.kubelet.kubeconfig, kubeletKubeconfig(c, n), 0o600, false, restartKubelet),
    shared.kubeletConfig,
    // The service kind runs daemon-reload when systemd says the unit changed on disk.
    c.file('kubelet-dropin', KUBELET_DROPIN, renderKubeletDropIn(rt, { name: n.name, ip: n.address }), 0o644, false, restartKubelet),
    ...shared.tail,
  ];
}
