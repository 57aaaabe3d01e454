import path from 'node:path';
import type { ProbeSpec } from '../../../proto/gen/muster/agent/v1/agent.js';
import type { Handler } from '../../../proto/gen/muster/agent/v1/tasks.js';
import { SpecError } from '../../../common/yaml-load.js';
import type { InventoryNode } from '../../inputs/inventory.js';
import { toMountSpec } from '../../inputs/storage.js';
import type { DraftTask } from '../draft.js';
import { renderLbFiles, validateLbInput, type LbInput } from '../lb/index.js';
import { selects } from '../node.js';
import { substituteDeep } from '../substitute.js';
import { renderApiserver, renderControllerManager, renderEtcd, renderScheduler } from './manifests/index.js';
import { ADDON_MANAGER_KUBECONFIG, renderAddonManager } from './manifests/addon-manager.js';
import { renderFlannelAddon } from './manifests/cni-flannel.js';
import { renderKubeProxyAddon } from './manifests/kube-proxy.js';
import { FILES } from './model.js';
import { pkg, running } from './node-tasks.js';
import { templateVars, toClusterNode, type ClusterContext } from './context.js';

// One function per role: the tasks (drafts) a node of that role holds, in the order they apply.

export function storageTasks({ m, spec }: ClusterContext, n: InventoryNode): DraftTask[] {
  return spec.value.storage
    .filter((st) => selects(st, n))
    .map((st) => ({ id: `storage-${st.id}`, notify: [], mount: toMountSpec(substituteDeep(st.mount, templateVars(m, n, spec), `storage ${st.id}`)) }));
}

export function etcdTasks(c: ClusterContext, n: InventoryNode): DraftTask[] {
  const member = c.m.etcd.members.find((e) => e.name === n.name)!;
  const p = c.etcdPki;
  return [
    c.cert('etcd-server-cert', `etcd/${n.name}/server`, p(FILES.etcdServerCert), p(FILES.etcdServerKey), 'etcd-ca', p(FILES.etcdPkiCa)),
    c.cert('etcd-peer-cert', `etcd/${n.name}/peer`, p(FILES.etcdPeerCert), p(FILES.etcdPeerKey), 'etcd-ca'),
    c.cert('etcd-healthcheck-client-cert', 'etcd-healthcheck-client', p('healthcheck-client.crt'), p('healthcheck-client.key'), 'etcd-ca'),
    c.pod('etcd-manifest', 'etcd', c.manifest('etcd', n, () => renderEtcd(c.m, member))),
  ];
}

const csv = (rows: { secret: string; user: string; uid: string; groups: string[] }[]) =>
  rows.map((r) => [r.secret, r.user, r.uid, ...(r.groups.length ? [`"${r.groups.join(',')}"`] : [])].join(',')).join('\n') + '\n';

export function controlPlaneTasks(c: ClusterContext, n: InventoryNode): DraftTask[] {
  const { m, srv } = c;
  const node = toClusterNode(n);
  const addon = (f: string) => path.posix.join(m.paths.addons, f);
  const auth = c.spec.value.authentication;
  return [
    c.cert('apiserver-cert', 'apiserver', srv(FILES.apiserverCert), srv(FILES.apiserverKey), 'ca', srv(FILES.ca)),
    c.cert('kubecfg-cert', 'kubecfg', srv(FILES.kubecfgCert), srv(FILES.kubecfgKey), 'ca'),
    c.cert('apiserver-kubelet-client-cert', 'apiserver-kubelet-client', srv(FILES.apiserverKubeletClientCert), srv(FILES.apiserverKubeletClientKey), 'ca'),
    // kubeadm's layout shares etcd/ca.crt with a stacked etcd member, whose task writes it.
    c.cert('apiserver-etcd-client-cert', 'apiserver-etcd-client', srv(FILES.apiserverEtcdClientCert), srv(FILES.apiserverEtcdClientKey), 'etcd-ca', srv(FILES.etcdCa) === c.etcdPki(FILES.etcdPkiCa) && n.roles.includes('etcd') ? '' : srv(FILES.etcdCa)),
    c.cert('front-proxy-client-cert', 'front-proxy-client', srv(FILES.frontProxyClientCert), srv(FILES.frontProxyClientKey), 'front-proxy-ca', srv(FILES.frontProxyCa)),
    c.material('service-account-key', srv(FILES.serviceAccountKey), (mat) => mat.serviceAccount().keyPem, 0o600, true),
    c.material('service-account-pub', srv(FILES.serviceAccountPub), (mat) => mat.serviceAccount().pubPem, 0o644),
    ...(auth.tokens.length ? [c.file('known-tokens', srv(FILES.knownTokens), csv(auth.tokens.map((t) => ({ secret: t.token, ...t }))), 0o600, true)] : []),
    ...(auth.basicAuth.length ? [c.file('basic-auth', srv(FILES.basicAuth), csv(auth.basicAuth.map((u) => ({ secret: u.password, ...u }))), 0o600, true)] : []),
    c.material('scheduler-kubeconfig', srv(FILES.schedulerKubeconfig), c.kubeconfig('system:kube-scheduler', 'kube-scheduler'), 0o600, true),
    c.material('controller-manager-kubeconfig', srv(FILES.controllerManagerKubeconfig), c.kubeconfig('system:kube-controller-manager', 'kube-controller-manager'), 0o600, true),
    // kubeadm users expect admin.conf on control-plane nodes (the seed layout keeps kubecfg.* instead).
    ...(m.layout === 'kubeadm' ? [c.material('admin-kubeconfig', srv(FILES.adminKubeconfig), c.kubeconfig('kubernetes-admin', 'admin'), 0o600, true)] : []),
    c.pod('kube-apiserver-manifest', 'kube-apiserver', c.manifest('kube-apiserver', n, () => renderApiserver(m, node))),
    c.pod('kube-controller-manager-manifest', 'kube-controller-manager', c.manifest('kube-controller-manager', n, () => renderControllerManager(m, node))),
    c.pod('kube-scheduler-manifest', 'kube-scheduler', c.manifest('kube-scheduler', n, () => renderScheduler(m, node))),
    // The addons, applied by the addon manager below (kubectl apply --prune on their label).
    c.shared('dns-addon', () => c.file('dns-addon', addon('dns.yaml'), c.dnsAddon, 0o644)),
    c.shared('kube-proxy-addon', () => c.file('kube-proxy-addon', addon('kube-proxy.yaml'), renderKubeProxyAddon(m, c.spec.value.kubernetes.imageRepository), 0o644)),
    ...(m.cni === 'flannel' ? [c.shared('cni-addon', () => c.file('cni-addon', addon('cni-flannel.yaml'), renderFlannelAddon(m), 0o644))] : []),
    c.material('addon-manager-kubeconfig', srv(ADDON_MANAGER_KUBECONFIG), c.kubeconfig('system:addon-manager', 'addon-manager'), 0o600, true),
    c.shared('addon-manager-manifest', () => c.pod('addon-manager-manifest', 'kube-addon-manager', renderAddonManager(m))),
  ];
}

// Where a problem of the load balancer's input sits in the cluster spec.
function lbProblemField(message: string): string[] {
  if (/^vip |is the VIP/.test(message)) return ['api', 'vip'];
  if (message.startsWith('apiPort')) return ['api', 'port'];
  for (const f of ['virtualRouterId', 'authPass', 'interface']) if (message.includes(f)) return ['loadBalancer', f];
  return ['loadBalancer'];
}

export function lbTasks({ m, spec, file }: ClusterContext, n: InventoryNode): { tasks: DraftTask[]; handlers: Handler[] } {
  const lb = spec.value.loadBalancer;
  const input: LbInput = {
    clusterName: m.name,
    vip: m.api.vip,
    apiPort: m.api.port,
    backends: m.controlPlane.map((c) => ({ name: c.name, address: c.ip, port: m.api.apiserverPort })),
    kind: lb.kind,
    lbNodes: m.lbNodes.map((l) => ({ name: l.name, address: l.ip, interface: lb.interface })),
    self: n.name,
    virtualRouterId: lb.virtualRouterId,
    authPass: lb.authPass,
  };
  const problems = validateLbInput(input);
  if (problems.length) {
    throw new SpecError(problems.map((message) => {
      const field = lbProblemField(message);
      return { file: spec.file, ...spec.locate(field), field: field.join('.'), message };
    }));
  }
  const handlers: Handler[] = [
    { id: 'reload-lb', command: lb.reload.lb ?? ['systemctl', 'reload-or-restart', lb.kind], timeoutMs: 60_000 },
    { id: 'reload-keepalived', command: lb.reload.keepalived ?? ['systemctl', 'reload-or-restart', 'keepalived'], timeoutMs: 60_000 },
  ];
  const sys = m.manageSystem;
  const files = renderLbFiles(input).map((f) => {
    const isKeepalived = f.path.startsWith('/etc/keepalived/');
    const id = isKeepalived ? (f.path.endsWith('.conf') ? 'keepalived-config' : 'keepalived-check-script') : 'lb-config';
    // The program's own config test needs the program: only where muster installs it.
    return file(id, f.path, f.content, f.mode, isKeepalived && f.path.endsWith('.conf') && !!lb.authPass, [isKeepalived ? 'reload-keepalived' : 'reload-lb'], sys ? f.check : undefined);
  });
  const [lbConfig, ...keepalived] = files;
  // Package, config, service: a kind switched away from is stopped before its config goes.
  const tasks = sys
    ? [pkg('lb-package', lb.kind), lbConfig, running('lb-service', lb.kind), pkg('keepalived-package', 'keepalived'), ...keepalived, running('keepalived-service', 'keepalived')]
    : files;
  return { tasks, handlers };
}

export function probesFor({ m, spec, srv, etcdPki, server }: ClusterContext, n: InventoryNode): ProbeSpec[] {
  const every = spec.value.probes.intervalSeconds * 1000;
  const probes: ProbeSpec[] = [{ name: 'kubelet', intervalMs: every, timeoutMs: 2000, http: { url: spec.value.probes.kubeletUrl, caPath: '', certPath: '', keyPath: '', insecure: true } }];
  if (n.roles.includes('etcd')) {
    probes.push({
      name: 'etcd',
      intervalMs: every,
      timeoutMs: 3000,
      etcd: { endpoint: `https://${n.address}:${m.etcd.clientPort}`, caPath: etcdPki(FILES.etcdPkiCa), certPath: etcdPki('healthcheck-client.crt'), keyPath: etcdPki('healthcheck-client.key') },
    });
  }
  if (n.roles.includes('control-plane')) {
    const viaTls = { caPath: srv(FILES.ca), certPath: srv(FILES.kubecfgCert), keyPath: srv(FILES.kubecfgKey), insecure: false };
    probes.push({ name: 'kube-apiserver', intervalMs: every, timeoutMs: 3000, http: { url: `https://${n.address}:${m.api.apiserverPort}/readyz`, ...viaTls } });
    if (spec.value.probes.vip) probes.push({ name: 'kube-apiserver-vip', intervalMs: every, timeoutMs: 3000, http: { url: `${server}/readyz`, ...viaTls } });
  }
  return probes;
}
