import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

// Reading certificates needs only node:crypto; issuing them (certs.ts) loads node-forge, which
// commands that only load stored certificates never need.
export interface CertPair {
  certPem: string;
  keyPem: string;
}

export interface CertInfo {
  subject: string;
  commonName: string;
  organizationalUnits: string[];
  organizations: string[];
  dnsNames: string[];
  ipAddresses: string[];
  notAfter: Date;
  daysLeft: number;
  serial: string;
}

// One spelling per address: X509 prints IPv6 expanded and upper-case, specs write it short.
export function canonicalIp(ip: string): string {
  return isIP(ip) === 6 ? new URL(`http://[${ip}]`).hostname.slice(1, -1) : ip;
}

// Reads what a certificate says, with Node's native X509 parser.
export function inspectCertificate(pem: string, now = Date.now()): CertInfo {
  return inspectX509(new X509Certificate(pem), now);
}

// The same, for a certificate already parsed (parsing is most of the cost).
export function inspectX509(c: X509Certificate, now = Date.now()): CertInfo {
  const fields = c.subject.split('\n');
  const pick = (k: string) => fields.filter((f) => f.startsWith(k + '=')).map((f) => f.slice(k.length + 1));
  const sans = (c.subjectAltName ?? '').split(', ').filter(Boolean);
  const notAfter = new Date(c.validTo);
  return {
    subject: fields.join(', '),
    commonName: pick('CN')[0] ?? '',
    organizationalUnits: pick('OU'),
    organizations: pick('O'),
    dnsNames: sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)),
    ipAddresses: sans.filter((s) => s.startsWith('IP Address:')).map((s) => canonicalIp(s.slice(11))),
    notAfter,
    daysLeft: Math.floor((notAfter.getTime() - now) / 86_400_000),
    serial: c.serialNumber,
  };
}
