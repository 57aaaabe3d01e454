// The controller's enrollment: what the CLI and `muster serve` call (one function per command).
import { caCertHash } from '../../common/ca-hash.js';
import { fleetStore } from '../pki/fleet.js';
import { ControllerError } from '../errors.js';
import { RevocationList } from './revocations.js';
import { FileTokenStore, createToken, type CreateTokenOptions } from './tokens.js';
import path from 'node:path';

export { Enrollment, issueClient, issueReader, listFleetCerts, renewControllerIfDue, type ApprovalPolicy, type EnrollNode, type FleetCertRow } from './enrollment.js';
export { refuseRevoked, RevocationList } from './revocations.js';
export { bundleFile, readTrust, rotateCa, type RotationStep } from './rotation.js';
export { startEnrollServer, type EnrollServer, type EnrollServerOptions } from './server.js';
export { FileTokenStore, createToken, deleteToken, listTokens, type TokenStore } from './tokens.js';

export { DEFAULT_ENROLL_PORT } from './port.js';

// The revocation list as it is now, for the controller's channels (refuseRevoked).
export async function loadRevocations(stateDir: string): Promise<RevocationList> {
  const list = new RevocationList(path.join(stateDir, 'enroll'));
  await list.load();
  return list;
}

export function tokenStore(stateDir: string): FileTokenStore {
  return new FileTokenStore(path.join(stateDir, 'enroll'));
}

// `muster token create`: the token, the CA hash to pin and the command to run on the node.
export async function createJoinToken(stateDir: string, controller: string, o: CreateTokenOptions = {}): Promise<{ token: string; caCertHash: string; command: string; expiresAt: string }> {
  const ca = await fleetStore(stateDir).read('ca');
  if (!ca) throw new ControllerError('NO_CREDENTIALS', `no fleet CA in ${fleetStore(stateDir).dir}: run "muster init" first`);
  const { token, record } = await createToken(tokenStore(stateDir), o);
  const hash = caCertHash(ca.certPem);
  return { token, caCertHash: hash, expiresAt: record.expiresAt, command: `musterd join --controller ${controller} --token ${token} --ca-cert-hash ${hash}${o.node ? ` --name ${o.node}` : ''}` };
}
