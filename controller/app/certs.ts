import path from 'node:path';
import { listFleetCerts } from '../enroll/index.js';
import type { CertInfo } from '../pki/certs.js';
import { ClusterPki } from '../pki/cluster.js';
import { loadInventory } from '../inputs/inventory.js';
import { withContext, type AppContext } from './context.js';
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
export async function renewCertificates(o: FleetOptions & { within?: number }, ctx?: AppContext): Promise<string[]> {
  const inv = await loadInventory(o.inventory);
  const renewed = await new ClusterPki(o.state, inv.cluster).renew(o.within);
  await withContext(o.state, ctx, async ({ store }) => {
    const why = o.within === undefined ? 'all leaf certificates' : `fewer than ${o.within} days left`;
    for (const name of renewed) await record(store, { action: 'certs', subject: name, node: '', result: 'renewed', generationBefore: 0, generationAfter: 0, detail: why });
  });
  return renewed;
}

export interface FleetCertificateEntry {
  // fleet/<file under pki/fleet>, or fleet/enrolled/<node> for a certificate signed at a join.
  name: string;
  commonName: string;
  role: string;
  notAfter: Date;
  daysLeft: number;
  serial: string;
}

// The fleet's own certificates (controller ↔ agents): made by init, signed at joins, readers.
export async function listFleetCertificates(o: FleetOptions): Promise<FleetCertificateEntry[]> {
  const enrolled = path.join(o.state, 'enroll', 'nodes');
  const fleet = path.join(o.state, 'pki', 'fleet');
  return (await listFleetCerts(o.state)).map((r) => ({
    name: `fleet/${r.file.startsWith(enrolled) ? `enrolled/${path.basename(r.file, '.crt')}` : path.relative(fleet, r.file).replace(/\.crt$/, '')}`,
    commonName: r.name,
    role: r.role,
    notAfter: r.notAfter,
    daysLeft: r.daysLeft,
    serial: r.serial,
  }));
}
