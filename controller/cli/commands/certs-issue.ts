import { issueReaderCert } from '../../app/enroll.js';
import { EXIT, type GlobalOptions, type Io } from '../io.js';

export async function run(o: GlobalOptions & { name: string; role: 'reader'; outDir?: string }, io: Io): Promise<number> {
  const r = await issueReaderCert(o);
  io.out(`[certs] issued a ${o.role} certificate for ${o.name} (GetStatus, GetFacts, WatchStatus; never Apply)`);
  io.out(`certificate: ${r.certFile}`);
  io.out(`key:         ${r.keyFile} (0600)`);
  return EXIT.OK;
}
