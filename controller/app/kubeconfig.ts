import { writeFileAtomic } from '../../common/atomic-write.js';
import { ControllerError } from '../errors.js';
import { loadClusterSpec } from '../inputs/cluster.js';
import { loadInventory } from '../inputs/inventory.js';
import { ClusterPki, clusterRequests } from '../pki/cluster.js';
import { buildModel } from '../render/cluster/build-model.js';
import { renderKubeconfig } from '../render/cluster/kubeconfig.js';

export interface KubeconfigOptions {
  state: string;
  inventory: string;
  cluster: string;
}

export const ADMIN_USER = 'kubernetes-admin';

// The operator's admin kubeconfig through the VIP: the admin client certificate (issued once by
// the PKI step and kept in the state folder like the others) and the cluster CA, never its key.
export async function adminKubeconfig(o: KubeconfigOptions): Promise<{ text: string; server: string; issued: boolean }> {
  const inv = await loadInventory(o.inventory);
  const m = buildModel(inv, await loadClusterSpec(o.cluster, inv));
  const pki = new ClusterPki(o.state, inv.cluster);
  // A new CA here would sign a certificate the running cluster does not trust.
  if (!(await pki.store.read('ca'))) throw new ControllerError('NO_CLUSTER_CA', `${o.state} holds no cluster CA for ${inv.cluster}: run "muster apply" first`);
  const admin = clusterRequests(m).find((r) => r.name === 'admin')!;
  const ca = await pki.ca(admin.ca);
  const pair = await pki.store.ensureIssued(admin.name, ca, admin.request, 30, admin.ca);
  const server = `https://${m.api.vip}:${m.api.port}`;
  const text = renderKubeconfig({ cluster: m.name, server, user: ADMIN_USER, ca: { pem: ca.certPem }, client: { certPem: pair.certPem, keyPem: pair.keyPem } });
  return { text, server, issued: pair.issued };
}

// The kubeconfig holds a private key: 0600, replaced atomically.
export async function writeKubeconfig(file: string, text: string): Promise<void> {
  await writeFileAtomic(file, text, { mode: 0o600 });
}
