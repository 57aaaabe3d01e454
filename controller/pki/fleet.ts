import path from 'node:path';
import { ControllerError } from '../errors.js';
import type { CertPair } from './certs.js';
import { PkiStore } from './store.js';
import type { Inventory } from '../inputs/inventory.js';

// The fleet PKI is muster's own trust (controller ↔ agents); the cluster PKI is Kubernetes'.
// They never share a CA: a leaked agent certificate must not open the API server.
export function fleetStore(stateDir: string): PkiStore {
  return new PkiStore(path.join(stateDir, 'pki', 'fleet'));
}

export interface FleetInit {
  created: string[];
  kept: string[];
}

export const ROLE_CONTROLLER = 'controller';
export const ROLE_AGENT = 'agent';
export const ROLE_READER = 'reader';
// A person at the controller's API: reads and writes there (apply, rollouts); agents refuse it.
export const ROLE_OPERATOR = 'operator';

// The roles a certificate may be issued for with `muster certs issue`, and where each is kept.
export const CLIENT_ROLES = { reader: 'readers', operator: 'operators' } as const;
export type ClientRole = keyof typeof CLIENT_ROLES;

// A server certificate of the controller (enrollment port, API) for the names and addresses it
// is dialled by; kept under `name` and re-issued when the names change or it nears expiry.
export function ensureServerCert(stateDir: string, name: string, ca: CertPair, sans: { dnsNames: string[]; ipAddresses: string[] }): Promise<CertPair> {
  return fleetStore(stateDir).ensureIssued(name, ca, {
    commonName: 'muster-controller',
    organizationalUnits: [ROLE_CONTROLLER],
    // muster-controller: the name joining agents check on their second connection (agent/join/client.ts).
    dnsNames: [...new Set(['muster-controller', ...sans.dnsNames])],
    ipAddresses: sans.ipAddresses,
    // serverAuth only: this key sits on the listening side and must never act as the controller's client.
    usages: ['server'],
  });
}

// Makes the fleet CA, the controller's client certificate and one certificate per agent.
// Re-running keeps what exists; a node whose address changed gets a new certificate.
export async function initFleet(stateDir: string, inv: Inventory): Promise<FleetInit> {
  const store = fleetStore(stateDir);
  const result: FleetInit = { created: [], kept: [] };
  const note = (name: string, issued: boolean) => (issued ? result.created : result.kept).push(name);
  const ca = await store.ensureCA('ca', `muster fleet CA (${inv.cluster})`);
  note('ca', ca.issued);
  const controller = await store.ensureIssued('controller', ca, { commonName: 'muster-controller', organizationalUnits: [ROLE_CONTROLLER], usages: ['client'] });
  note('controller', controller.issued);
  for (const node of inv.nodes) {
    const dnsNames = [...new Set([node.name, node.hostname])];
    const agent = await store.ensureIssued(`agents/${node.name}`, ca, {
      commonName: node.name,
      organizationalUnits: [ROLE_AGENT],
      dnsNames,
      ipAddresses: [node.address],
      usages: ['server', 'client'],
    });
    note(`agents/${node.name}`, agent.issued);
  }
  return result;
}

export interface FleetCredentials {
  ca: CertPair;
  controller: CertPair;
  // The CAs to trust in agents (two during a CA rotation); the CA alone when absent.
  trustPem?: string;
  // The fleet's revocation list: a listed agent certificate is refused at the handshake.
  revoked?: { has(serial: string): boolean };
}

export async function readFleetCredentials(stateDir: string): Promise<FleetCredentials> {
  const store = fleetStore(stateDir);
  const [ca, controller] = await Promise.all([store.read('ca'), store.read('controller')]);
  if (!ca || !controller) throw new ControllerError('NO_CREDENTIALS', `no fleet credentials in ${store.dir}: run "muster init" first`);
  return { ca, controller };
}
