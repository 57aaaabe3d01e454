import { listCertificates } from '../../app/certs.js';
import { emit, painter } from '../format.js';
import { EXIT, type GlobalOptions, type Io, type OutputFormat } from '../io.js';
import { table } from '../output.js';

// Exit 1 when a certificate has expired.
export async function run(o: GlobalOptions & { output: OutputFormat; warnDays: number }, io: Io): Promise<number> {
  const list = await listCertificates(o);
  const paint = painter(io.color);
  const data = list.map((c) => ({ name: c.name, ca: c.ca, subject: c.info.subject, notAfter: c.info.notAfter.toISOString(), daysLeft: c.info.daysLeft, serial: c.info.serial, dnsNames: c.info.dnsNames, ipAddresses: c.info.ipAddresses }));
  emit(io, o.output, data, (wide) => {
    if (!list.length) return `[certs] no cluster certificates in ${o.state} yet: the first apply issues them`;
    return table(['CERTIFICATE', 'EXPIRES', 'DAYS LEFT', 'CA', 'SUBJECT', ...(wide ? ['SANS', 'SERIAL'] : [])], list.map((c) => {
      const days = `${c.info.daysLeft}${c.info.daysLeft < o.warnDays ? ' !' : ''}`;
      return [
        c.name,
        c.info.notAfter.toISOString().slice(0, 10),
        c.info.daysLeft < 0 ? paint('red', days) : c.info.daysLeft < o.warnDays ? paint('yellow', days) : days,
        c.ca,
        c.info.subject,
        ...(wide ? [[...c.info.dnsNames, ...c.info.ipAddresses].join(',') || '-', c.info.serial] : []),
      ];
    }));
  });
  return list.some((c) => c.info.daysLeft < 0) ? EXIT.FAILED : EXIT.OK;
}
