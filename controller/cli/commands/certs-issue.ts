import { issueClientCert } from '../../app/enroll.js';
import type { ClientRole } from '../../pki/fleet.js';
import { EXIT, type GlobalOptions, type Io } from '../io.js';

const WHAT: Record<ClientRole, string> = {
  reader: 'GetStatus, GetFacts, WatchStatus on agents, and the read routes of the controller API; never Apply',
  operator: 'the controller API, read and write (apply, rollouts, pause, resume, abort); agents refuse it',
};

export async function run(o: GlobalOptions & { name: string; role: ClientRole; outDir?: string }, io: Io): Promise<number> {
  const r = await issueClientCert(o);
  io.out(`[certs] issued a ${o.role} certificate for ${o.name} (${WHAT[o.role]})`);
  io.out(`certificate: ${r.certFile}`);
  io.out(`key:         ${r.keyFile} (0600)`);
  return EXIT.OK;
}
