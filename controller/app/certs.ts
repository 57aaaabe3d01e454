import type { CertInfo } from '../pki/certs.js';
import { ClusterPki } from '../pki/cluster.js';
import { loadInventory } from '../inputs/inventory.js';
import { openStore } from '../store/sqlite.js';
import { record } from './history.js';
import type { FleetOptions } from './status.js';

export interface CertificateEntry {
  name: string;
  ca: string;
  info: CertInfo;
}

// Every cluster certificate in the state folder, with what it says and how long it has left.
export async function listCertificates(o: FleetOptions): Promise<CertificateEntry[]> {
  const inv = await loadInventory(o.inventory);
  return new ClusterPki(o.state, inv.cluster).list();
}

// Re-issues every leaf certificate (or those with fewer than `within` days left); the next apply rolls them out.
export async function renewCertificates(o: FleetOptions & { within?: number }): Promise<string[]> {
  const inv = await loadInventory(o.inventory);
  const renewed = await new ClusterPki(o.state, inv.cluster).renew(o.within);
  const store = openStore(o.state);
  try {
    const why = o.within === undefined ? 'all leaf certificates' : `fewer than ${o.within} days left`;
    for (const name of renewed) await record(store, { action: 'certs', subject: name, node: '', result: 'renewed', generationBefore: 0, generationAfter: 0, detail: why });
  } finally {
    store.close();
  }
  return renewed;
}
