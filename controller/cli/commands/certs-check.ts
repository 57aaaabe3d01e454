import { listCertificates } from '../../app/certs.js';
import { EXIT, type GlobalOptions, type Io } from '../io.js';
import { table } from '../output.js';

export async function run(o: GlobalOptions & { json?: boolean; warnDays: number }, io: Io): Promise<number> {
  const list = await listCertificates(o);
  if (o.json) {
    io.out(JSON.stringify(list.map((c) => ({ name: c.name, ca: c.ca, subject: c.info.subject, notAfter: c.info.notAfter.toISOString(), daysLeft: c.info.daysLeft })), null, 2));
  } else if (!list.length) {
    io.out(`[certs] no cluster certificates in ${o.state} yet: the first apply issues them`);
  } else {
    io.out(table(['CERTIFICATE', 'EXPIRES', 'DAYS LEFT', 'CA', 'SUBJECT'], list.map((c) => [
      c.name,
      c.info.notAfter.toISOString().slice(0, 10),
      `${c.info.daysLeft}${c.info.daysLeft < o.warnDays ? ' !' : ''}`,
      c.ca,
      c.info.subject,
    ])));
  }
  return list.some((c) => c.info.daysLeft < 0) ? EXIT.FAILED : EXIT.OK;
}
