import { listCertificates, listFleetCertificates } from '../../app/certs.js';
import { emit, painter } from '../format.js';
import { EXIT, type GlobalOptions, type Io, type OutputFormat } from '../io.js';
import { table } from '../output.js';

// Exit 1 when a certificate has expired.
export async function run(o: GlobalOptions & { output: OutputFormat; warnDays: number }, io: Io): Promise<number> {
  const [cluster, fleet] = await Promise.all([listCertificates(o), listFleetCertificates(o)]);
  const paint = painter(io.color);
  const rows = [
    ...cluster.map((c) => ({ kind: 'cluster', name: c.name, ca: c.ca, subject: c.info.subject, notAfter: c.info.notAfter.toISOString(), daysLeft: c.info.daysLeft, serial: c.info.serial, dnsNames: c.info.dnsNames, ipAddresses: c.info.ipAddresses })),
    ...fleet.map((c) => ({ kind: 'fleet', name: c.name, ca: 'fleet', subject: `CN=${c.commonName}`, role: c.role, notAfter: c.notAfter.toISOString(), daysLeft: c.daysLeft, serial: c.serial })),
  ];
  emit(io, o.output, rows, (wide) => {
    const note = cluster.length ? '' : `\n[certs] no cluster certificates in ${o.state} yet: the first apply issues them`;
    return table(['CERTIFICATE', 'KIND', 'EXPIRES', 'DAYS LEFT', 'CA', 'SUBJECT', ...(wide ? ['ROLE', 'SANS', 'SERIAL'] : [])], rows.map((c) => {
      const days = `${c.daysLeft}${c.daysLeft < o.warnDays ? ' !' : ''}`;
      return [
        c.name,
        c.kind,
        c.notAfter.slice(0, 10),
        c.daysLeft < 0 ? paint('red', days) : c.daysLeft < o.warnDays ? paint('yellow', days) : days,
        c.ca,
        c.subject,
        ...(wide ? ['role' in c ? c.role : '-', 'dnsNames' in c ? [...c.dnsNames, ...c.ipAddresses].join(',') || '-' : '-', c.serial] : []),
      ];
    })) + note;
  });
  return rows.some((c) => c.daysLeft < 0) ? EXIT.FAILED : EXIT.OK;
}
