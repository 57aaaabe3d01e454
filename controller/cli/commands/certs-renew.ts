import { renewCertificates } from '../../app/certs.js';
import { EXIT, type GlobalOptions, type Io } from '../io.js';

export async function run(o: GlobalOptions & { within?: number }, io: Io): Promise<number> {
  const renewed = await renewCertificates(o);
  for (const name of renewed) io.out(`[certs] renewed ${name}`);
  io.out(`[certs] ${renewed.length} certificate(s) renewed${o.within !== undefined ? ` (those with fewer than ${o.within} days left)` : ''}; run "muster apply" to roll them out`);
  return EXIT.OK;
}
