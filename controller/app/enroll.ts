import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../common/atomic-write.js';
import { ControllerError } from '../errors.js';
import { Enrollment, createJoinToken, deleteToken, issueClient, listTokens, rotateCa, tokenStore, type ApprovalPolicy, type RotationStep } from '../enroll/index.js';
import type { CreateTokenOptions } from '../enroll/tokens.js';
import type { ClientRole } from '../pki/fleet.js';
import { loadInventory } from '../inputs/inventory.js';
import type { FleetOptions } from './status.js';

// The operator's side of enrollment: what `muster token|nodes|certs issue|ca` run.

// The token store's folder (0700: it holds the token hashes and the approval queue).
const enrollDir = (o: FleetOptions) => fs.mkdir(path.join(o.state, 'enroll'), { recursive: true, mode: 0o700 });

export async function createTokenFor(o: FleetOptions & { controller: string } & CreateTokenOptions) {
  await enrollDir(o);
  return createJoinToken(o.state, o.controller, { node: o.node, labels: o.labels, ttlSeconds: o.ttlSeconds, uses: o.uses });
}

export const tokens = (o: FleetOptions) => listTokens(tokenStore(o.state));

export async function removeToken(o: FleetOptions & { id: string }): Promise<void> {
  await enrollDir(o);
  if (!(await deleteToken(tokenStore(o.state), o.id))) throw new ControllerError('NO_TOKEN', `no token ${o.id.split('.')[0]} in ${path.join(o.state, 'enroll', 'tokens.json')} (muster token list shows them)`);
}

// The inventory is read only when a join asks (approve, deny and revoke do not need it).
export function enrollment(o: FleetOptions & { policy?: ApprovalPolicy }): Promise<Enrollment> {
  return new Enrollment({ stateDir: o.state, nodes: async () => (await loadInventory(o.inventory)).nodes, policy: o.policy }).init();
}

// A reader or operator certificate in the state folder, and copied into outDir when given.
export async function issueClientCert(o: FleetOptions & { name: string; role: ClientRole; outDir?: string }): Promise<{ certFile: string; keyFile: string }> {
  const r = await issueClient(o.state, o.name, o.role);
  if (!o.outDir) return { certFile: r.certFile, keyFile: r.keyFile };
  await fs.mkdir(o.outDir, { recursive: true });
  const out = { certFile: path.join(o.outDir, `${o.name}.crt`), keyFile: path.join(o.outDir, `${o.name}.key`) };
  await writeFileAtomic(out.certFile, r.pair.certPem, { mode: 0o644 });
  await writeFileAtomic(out.keyFile, r.pair.keyPem, { mode: 0o600 });
  return out;
}

export const rotate = (o: FleetOptions & { step: RotationStep }) => rotateCa(o.state, o.step);
