import path from 'node:path';
import { DriftPolicy, Plan, type ProbeSpec } from '../../../proto/gen/muster/agent/v1/agent.js';
import type { Handler, Task } from '../../../proto/gen/muster/agent/v1/tasks.js';
import { SpecError } from '../../../common/yaml-load.js';
import type { CertPair } from '../../pki/certs.js';
import { ClusterPki, ensureClusterCredentials } from '../../pki/cluster.js';
import type { ClusterSpec } from '../../inputs/cluster.js';
import type { Inventory, InventoryNode } from '../../inputs/inventory.js';
import { renderLbFiles, validateLbInput, type LbInput } from '../lb/index.js';
import { revisionOf, selects } from '../render.js';
import { substitute, substituteDeep } from '../substitute.js';
import { toMountSpec } from '../../inputs/storage.js';
import { buildModel } from './build-model.js';
import { renderKubeconfig } from './kubeconfig.js';
import { renderApiserver, renderControllerManager, renderDnsAddon, renderEtcd, renderScheduler } from './manifests/index.js';
import { FILES, type ClusterModel, type ClusterNode } from './model.js';

const KUBELET_PKI = '/var/lib/kubelet/pki';
const KUBELET_KUBECONFIG = '/etc/kubernetes/kubelet.conf';

// Variables an operator's manifest template may use, besides the spec's own `vars`.
export function templateVars(m: ClusterModel, node: ClusterNode, spec: ClusterSpec): Record<string, string> {
  return {
    ...spec.value.vars,
    NODE_NAME: node.name,
    NODE_IP: node.ip,
    NODE_HOSTNAME: node.hostname,
    CLUSTER_NAME: m.name,
    KUBERNETES_VERSION: m.version.raw,
    DISCOVERY_TOKEN: m.etcd.bootstrap.kind === 'discovery' ? m.etcd.bootstrap.url : '',
    ETCD_INITIAL_CLUSTER: m.etcd.bootstrap.kind === 'static' ? m.etcd.bootstrap.initialCluster : '',
    ETCD_SERVERS: m.etcd.members.map((e) => e.clientURL).join(','),
    ETCD_IMAGE: m.images.etcd,
    APISERVER_IMAGE: m.images.apiserver,
    CONTROLLER_MANAGER_IMAGE: m.images.controllerManager,
    SCHEDULER_IMAGE: m.images.scheduler,
    SERVICE_CIDR: m.network.serviceCIDR,
    POD_CIDR: m.network.podCIDR,
    CLUSTER_DOMAIN: m.network.clusterDomain,
    API_VIP: m.api.vip,
    API_PORT: String(m.api.port),
    MAX_REQUESTS_INFLIGHT: String(m.api.maxRequestsInflight),
  };
}

// Every node's plan for the cluster the spec describes. Deterministic: the same inputs and the
// same PKI state give the same bytes and revisions.
export async function renderClusterPlans(inv: Inventory, spec: ClusterSpec, pki: ClusterPki): Promise<Plan[]> {
  const m = buildModel(inv, spec);
  const creds = await ensureClusterCredentials(pki, m, spec.value.api.extraSANs);
  const ca = (await pki.ca('ca')).certPem;
  const etcdCa = (await pki.ca('etcd-ca')).certPem;
  const sa = await pki.serviceAccountKey();
  const dnsAddon = renderDnsAddon(m);
  const get = (name: string): CertPair => creds.get(name)!;
  const server = `https://${m.api.vip}:${m.api.port}`;
  const srv = (f: string) => path.posix.join(m.paths.srv, f);
  const etcdPki = (f: string) => path.posix.join(m.paths.etcdPki, f);

  const cert = (id: string, pair: CertPair, certPath: string, keyPath: string, caPem: string, caPath = ''): Task => ({
    id,
    notify: [],
    certificate: { certPath, certPem: pair.certPem, keyPath, keyPem: pair.keyPem, caPath, caPem, owner: '', group: '' },
  });
  const file = (id: string, filePath: string, content: string, mode: number, secret = false, notify: string[] = []): Task => ({
    id,
    notify,
    file: { path: filePath, content: Buffer.from(content), mode, owner: '', group: '', secret },
  });
  const pod = (id: string, name: string, manifest: string): Task => ({ id, notify: [], staticPod: { name, manifest, manifestsDir: m.paths.manifests } });
  const kubeconfig = (user: string, pair: CertPair) => renderKubeconfig({ cluster: m.name, server, user, ca: { pem: ca }, client: pair });

  const problems: string[] = [];
  const manifest = (component: string, node: ClusterNode, builtIn: () => string): string => {
    const t = spec.templates.get(component);
    if (!t) return builtIn();
    try {
      return substitute(t.text, templateVars(m, node, spec), t.file);
    } catch (err) {
      problems.push((err as Error).message);
      return '';
    }
  };

  const plans: Plan[] = [];
  for (const n of inv.nodes) {
    const node: ClusterNode = { name: n.name, ip: n.address, hostname: n.hostname };
    const has = (r: InventoryNode['roles'][number]) => n.roles.includes(r);
    const tasks: Task[] = [];
    const handlers: Handler[] = [];
    // Storage first: /var/lib/etcd is mounted before etcd's manifest appears.
    for (const st of spec.value.storage) {
      if (!selects(st, n)) continue;
      tasks.push({ id: `storage-${st.id}`, notify: [], mount: toMountSpec(substituteDeep(st.mount, templateVars(m, node, spec), `storage ${st.id}`)) });
    }

    if (has('etcd')) {
      const member = m.etcd.members.find((e) => e.name === n.name)!;
      tasks.push(
        cert('etcd-server-cert', get(`etcd/${n.name}/server`), etcdPki(FILES.etcdServerCert), etcdPki(FILES.etcdServerKey), etcdCa, etcdPki(FILES.etcdPkiCa)),
        cert('etcd-peer-cert', get(`etcd/${n.name}/peer`), etcdPki(FILES.etcdPeerCert), etcdPki(FILES.etcdPeerKey), etcdCa),
        cert('etcd-healthcheck-client-cert', get('etcd-healthcheck-client'), etcdPki('healthcheck-client.crt'), etcdPki('healthcheck-client.key'), etcdCa),
        pod('etcd-manifest', 'etcd', manifest('etcd', node, () => renderEtcd(m, member))),
      );
    }
    if (has('control-plane')) {
      tasks.push(
        cert('apiserver-cert', get('apiserver'), srv(FILES.apiserverCert), srv(FILES.apiserverKey), ca, srv(FILES.ca)),
        cert('kubecfg-cert', get('kubecfg'), srv(FILES.kubecfgCert), srv(FILES.kubecfgKey), ca),
        cert('apiserver-kubelet-client-cert', get('apiserver-kubelet-client'), srv(FILES.apiserverKubeletClientCert), srv(FILES.apiserverKubeletClientKey), ca),
        cert('apiserver-etcd-client-cert', get('apiserver-etcd-client'), srv(FILES.apiserverEtcdClientCert), srv(FILES.apiserverEtcdClientKey), etcdCa, srv(FILES.etcdCa)),
        file('service-account-key', srv(FILES.serviceAccountKey), sa.keyPem, 0o600, true),
        file('service-account-pub', srv(FILES.serviceAccountPub), sa.pubPem, 0o644),
      );
      const auth = spec.value.authentication;
      if (auth.tokens.length) {
        const csv = auth.tokens.map((t) => [t.token, t.user, t.uid, ...(t.groups.length ? [`"${t.groups.join(',')}"`] : [])].join(',')).join('\n') + '\n';
        tasks.push(file('known-tokens', srv(FILES.knownTokens), csv, 0o600, true));
      }
      if (auth.basicAuth.length) {
        const csv = auth.basicAuth.map((u) => [u.password, u.user, u.uid, ...(u.groups.length ? [`"${u.groups.join(',')}"`] : [])].join(',')).join('\n') + '\n';
        tasks.push(file('basic-auth', srv(FILES.basicAuth), csv, 0o600, true));
      }
      tasks.push(
        file('scheduler-kubeconfig', srv(FILES.schedulerKubeconfig), kubeconfig('system:kube-scheduler', get('kube-scheduler')), 0o600, true),
        file('controller-manager-kubeconfig', srv(FILES.controllerManagerKubeconfig), kubeconfig('system:kube-controller-manager', get('kube-controller-manager')), 0o600, true),
        pod('kube-apiserver-manifest', 'kube-apiserver', manifest('kube-apiserver', node, () => renderApiserver(m, node))),
        pod('kube-controller-manager-manifest', 'kube-controller-manager', manifest('kube-controller-manager', node, () => renderControllerManager(m, node))),
        pod('kube-scheduler-manifest', 'kube-scheduler', manifest('kube-scheduler', node, () => renderScheduler(m, node))),
        file('dns-addon', path.posix.join(m.paths.addons, 'dns.yaml'), dnsAddon, 0o644),
      );
    }
    if (has('lb')) {
      const lb = spec.value.loadBalancer;
      const lbInput: LbInput = {
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
      const lbProblems = validateLbInput(lbInput);
      if (lbProblems.length) {
        throw new SpecError(lbProblems.map((message) => ({ file: spec.file, ...spec.locate(['loadBalancer']), field: 'loadBalancer', message })));
      }
      const files = renderLbFiles(lbInput);
      handlers.push(
        { id: 'reload-lb', command: lb.reload.lb ?? ['systemctl', 'reload-or-restart', lb.kind], timeoutMs: 60_000 },
        { id: 'reload-keepalived', command: lb.reload.keepalived ?? ['systemctl', 'reload-or-restart', 'keepalived'], timeoutMs: 60_000 },
      );
      for (const f of files) {
        const isKeepalived = f.path.startsWith('/etc/keepalived/');
        const id = isKeepalived ? (f.path.endsWith('.conf') ? 'keepalived-config' : 'keepalived-check-script') : 'lb-config';
        tasks.push(file(id, f.path, f.content, f.mode, isKeepalived && f.path.endsWith('.conf') && !!lb.authPass, [isKeepalived ? 'reload-keepalived' : 'reload-lb']));
      }
    }
    // Every node's kubelet talks to the API through the VIP with its own client certificate.
    tasks.push(
      cert('kubelet-client-cert', get(`kubelet/${n.name}`), path.posix.join(KUBELET_PKI, 'kubelet-client.crt'), path.posix.join(KUBELET_PKI, 'kubelet-client.key'), ca, path.posix.join(KUBELET_PKI, 'ca.crt')),
      file(
        'kubelet-kubeconfig',
        KUBELET_KUBECONFIG,
        renderKubeconfig({
          cluster: m.name,
          server,
          user: `system:node:${n.name}`,
          ca: { file: path.posix.join(KUBELET_PKI, 'ca.crt') },
          client: { certFile: path.posix.join(KUBELET_PKI, 'kubelet-client.crt'), keyFile: path.posix.join(KUBELET_PKI, 'kubelet-client.key') },
        }),
        0o600,
      ),
    );
    const every = spec.value.probes.intervalSeconds * 1000;
    const probes: ProbeSpec[] = [{ name: 'kubelet', intervalMs: every, timeoutMs: 2000, http: { url: spec.value.probes.kubeletUrl, caPath: '', certPath: '', keyPath: '', insecure: true } }];
    if (has('etcd')) {
      probes.push({
        name: 'etcd',
        intervalMs: every,
        timeoutMs: 3000,
        etcd: { endpoint: `https://${n.address}:${m.etcd.clientPort}`, caPath: etcdPki(FILES.etcdPkiCa), certPath: etcdPki('healthcheck-client.crt'), keyPath: etcdPki('healthcheck-client.key') },
      });
    }
    if (has('control-plane')) {
      const viaTls = { caPath: srv(FILES.ca), certPath: srv(FILES.kubecfgCert), keyPath: srv(FILES.kubecfgKey), insecure: false };
      probes.push({ name: 'kube-apiserver', intervalMs: every, timeoutMs: 3000, http: { url: `https://${n.address}:${m.api.apiserverPort}/readyz`, ...viaTls } });
      if (spec.value.probes.vip) probes.push({ name: 'kube-apiserver-vip', intervalMs: every, timeoutMs: 3000, http: { url: `${server}/readyz`, ...viaTls } });
    }
    const driftPolicy = spec.value.drift === 'report' ? DriftPolicy.DRIFT_POLICY_REPORT : DriftPolicy.DRIFT_POLICY_ENFORCE;
    const plan: Plan = { node: n.name, revision: '', tasks, handlers, probes, driftPolicy };
    plan.revision = revisionOf(plan);
    plans.push(plan);
  }
  if (problems.length) {
    throw new SpecError([...new Set(problems)].map((message) => ({ file: spec.file, ...spec.locate(['templates']), field: 'templates', message })));
  }
  return plans;
}
