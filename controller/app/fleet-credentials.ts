import { loadRevocations, readTrust, renewControllerIfDue } from '../enroll/index.js';
import { readFleetCredentials, type FleetCredentials } from '../pki/fleet.js';

// What every command that dials agents uses: the controller's certificate (re-issued first when
// past two thirds of its life), the trust bundle (so a CA rotation keeps working) and the
// revocation list (a revoked agent is refused at its next handshake). A long-running caller
// passes a list it keeps reloading.
export async function fleetCredentials(state: string, revoked?: FleetCredentials['revoked']): Promise<FleetCredentials> {
  await renewControllerIfDue(state);
  const [creds, trust, list] = await Promise.all([readFleetCredentials(state), readTrust(state), revoked ?? loadRevocations(state)]);
  return { ...creds, trustPem: trust.bundle, revoked: list };
}
