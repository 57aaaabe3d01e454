import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface CertPair {
  certPem: string;
  keyPem: string;
}

export type Usage = 'server' | 'client';

export interface IssueRequest {
  commonName: string;
  // organizationalUnits carry muster's roles (controller, agent, reader).
  organizationalUnits?: string[];
  // organizations carry Kubernetes groups (system:masters, system:nodes).
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  usages: Usage[];
  validityDays?: number;
  // notBefore/notAfter override the validity window (tests make expired certificates with them).
  notBefore?: Date;
  notAfter?: Date;
}

export const DEFAULT_CA_DAYS = 3650;
export const DEFAULT_CERT_DAYS = 365;

// RSA keys come from Node's native generator; node-forge builds and signs the certificates.
function newKey(): { forgeKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; keyPem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  return { forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e), keyPem };
}

function serial(): string {
  // Positive, 16 bytes: the first bit cleared so DER does not read it as negative.
  const b = randomBytes(16);
  b[0] &= 0x7f;
  return b.toString('hex');
}

function window(days: number, notBefore?: Date, notAfter?: Date): { from: Date; to: Date } {
  const from = notBefore ?? new Date(Date.now() - 5 * 60_000); // 5 minutes of clock skew
  const to = notAfter ?? new Date(from.getTime() + days * 86_400_000);
  return { from, to };
}

export function createCA(commonName: string, options: { validityDays?: number; notBefore?: Date; notAfter?: Date } = {}): CertPair {
  const { forgeKey, publicKey, keyPem } = newKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serial();
  const { from, to } = window(options.validityDays ?? DEFAULT_CA_DAYS, options.notBefore, options.notAfter);
  cert.validity.notBefore = from;
  cert.validity.notAfter = to;
  const attrs = [{ name: 'commonName', value: commonName }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forgeKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

export function issueCertificate(ca: CertPair, req: IssueRequest): CertPair {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const { forgeKey: _k, publicKey, keyPem } = newKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serial();
  const { from, to } = window(req.validityDays ?? DEFAULT_CERT_DAYS, req.notBefore, req.notAfter);
  cert.validity.notBefore = from;
  cert.validity.notAfter = to;
  const subject: forge.pki.CertificateField[] = [];
  for (const o of req.organizations ?? []) subject.push({ name: 'organizationName', value: o });
  for (const ou of req.organizationalUnits ?? []) subject.push({ shortName: 'OU', value: ou });
  subject.push({ name: 'commonName', value: req.commonName });
  cert.setSubject(subject);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = [
    ...(req.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(req.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: req.usages.includes('server'), clientAuth: req.usages.includes('client') },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ];
  if (altNames.length) extensions.push({ name: 'subjectAltName', altNames });
  cert.setExtensions(extensions);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
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

// Reads what a certificate says, with Node's native X509 parser.
export function inspectCertificate(pem: string, now = Date.now()): CertInfo {
  const c = new X509Certificate(pem);
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
    ipAddresses: sans.filter((s) => s.startsWith('IP Address:')).map((s) => s.slice(11)),
    notAfter,
    daysLeft: Math.floor((notAfter.getTime() - now) / 86_400_000),
    serial: c.serialNumber,
  };
}
