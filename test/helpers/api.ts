import { ControllerClient } from '../../controller/api/client.js';
import { issueClient } from '../../controller/enroll/enrollment.js';
import { fleetStore, type ClientRole } from '../../controller/pki/fleet.js';

// A client of muster serve's API with a freshly issued certificate of that role.
export async function apiClient(state: string, url: string, role: ClientRole, name = `${role}-${Math.random().toString(36).slice(2, 8)}`): Promise<ControllerClient> {
  const { pair } = await issueClient(state, name, role);
  const ca = (await fleetStore(state).read('ca'))!;
  return new ControllerClient(url, { certPem: pair.certPem, keyPem: pair.keyPem, caPem: ca.certPem });
}
