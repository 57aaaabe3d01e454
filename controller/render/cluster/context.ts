import path from 'node:path';
import type { Task } from '../../../proto/gen/muster/agent/v1/tasks.js';
import type { ClusterSpec } from '../../inputs/cluster.js';
import type { InventoryNode } from '../../inputs/inventory.js';
import type { CaName, Material } from '../../pki/cluster.js';
import type { DraftTask } from '../draft.js';
import { nodeVars } from '../node.js';
import { substitute } from '../substitute.js';
import { renderKubeconfig } from './kubeconfig.js';
import { renderDnsAddon } from './manifests/index.js';
import { srvFile } from './manifests/pod.js';
import type { ClusterModel, ClusterNode } from './model.js';

// Variables an operator's manifest template may use: the node's, the cluster's and the spec's `vars`.
export function templateVars(m: ClusterModel, node: InventoryNode, spec: ClusterSpec): Record<string, string> {
  return {
    ...spec.value.vars,
    ...nodeVars(node, m.name),
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

// What every role's renderer is handed: the model, the spec and the task builders. Tasks that
// carry key material are drafts, filled in after the PKI step from the certificates they name.
export interface ClusterContext {
  m: ClusterModel;
  spec: ClusterSpec;
  server: string;
  dnsAddon: string;
  srv(file: string): string;
  etcdPki(file: string): string;
  cert(id: string, name: string, certPath: string, keyPath: string, ca: CaName, caPath?: string, notify?: string[]): DraftTask;
  // check: the program that must accept the new bytes first ("{}" is the temp file).
  file(id: string, filePath: string, content: string, mode: number, secret?: boolean, notify?: string[], check?: string[]): Task;
  material(id: string, filePath: string, content: (m: Material) => string, mode: number, secret?: boolean): DraftTask;
  pod(id: string, name: string, manifest: string): Task;
  kubeconfig(user: string, certName: string): (m: Material) => string;
  // A built-in manifest or the operator's template for the component, filled per node.
  manifest(component: string, node: InventoryNode, builtIn: () => string): string;
  // What every node of one render shares (same inputs, same bytes), made by the first node that asks.
  shared<T>(key: string, make: () => T): T;
}

export function clusterContext(m: ClusterModel, spec: ClusterSpec, problems: string[]): ClusterContext {
  const server = `https://${m.api.vip}:${m.api.port}`;
  const memo = new Map<string, unknown>();
  const file: ClusterContext['file'] = (id, filePath, content, mode, secret = false, notify = [], check) => ({
    id,
    notify,
    file: { path: filePath, content: Buffer.from(content), mode, owner: '', group: '', secret, ...(check ? { check: { command: check } } : {}) },
  });
  return {
    m,
    spec,
    server,
    dnsAddon: renderDnsAddon(m),
    srv: (f) => srvFile(m, f),
    etcdPki: (f) => path.posix.join(m.paths.etcdPki, f),
    cert: (id, name, certPath, keyPath, ca, caPath = '', notify = []) => (mat) => ({
      id,
      notify,
      certificate: { certPath, certPem: mat.cert(name).certPem, keyPath, keyPem: mat.cert(name).keyPem, caPath, caPem: mat.caPem(ca), owner: '', group: '' },
    }),
    file,
    material: (id, filePath, content, mode, secret = false) => (mat) => file(id, filePath, content(mat), mode, secret),
    pod: (id, name, manifest) => ({ id, notify: [], staticPod: { name, manifest, manifestsDir: m.paths.manifests } }),
    kubeconfig: (user, certName) => (mat) => renderKubeconfig({ cluster: m.name, server, user, ca: { pem: mat.caPem('ca') }, client: mat.cert(certName) }),
    manifest: (component, node, builtIn) => {
      const t = spec.templates.get(component);
      if (!t) return builtIn();
      try {
        return substitute(t.text, templateVars(m, node, spec), t.file);
      } catch (err) {
        problems.push((err as Error).message);
        return '';
      }
    },
    shared: <T>(key: string, make: () => T): T => {
      if (!memo.has(key)) memo.set(key, make());
      return memo.get(key) as T;
    },
  };
}

export function toClusterNode(n: InventoryNode): ClusterNode {
  return { name: n.name, ip: n.address, hostname: n.hostname };
}
