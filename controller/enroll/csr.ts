import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { canonicalIp } from '../pki/inspect.js';
import { ControllerError } from '../errors.js';

// What a PKCS#10 request (RFC 2986) asks for, once its signature has been checked.
export interface ParsedCsr {
  publicKey: KeyObject;
  commonName: string;
  organizationalUnits: string[];
  organizations: string[];
  // other subject attributes (C, L, emailAddress, ...): never granted, listed to refuse them.
  otherSubject: string[];
  dnsNames: string[];
  ipAddresses: string[];
  // SAN kinds other than DNS and IP (e-mail, URI): refused.
  otherNames: number[];
}

const asn1 = forge.asn1;
const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectAltName: '2.5.29.17',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
};
export const MAX_CSR_BYTES = 16 * 1024;

const bad = (why: string) => new ControllerError('CSR_INVALID', `the certificate request ${why}`);

// The exact bytes of the first TLV inside a DER SEQUENCE: what the signature covers.
function firstElement(der: Buffer): Buffer {
  const lengthAt = (at: number): { len: number; head: number } => {
    const b = der[at + 1];
    if (b < 0x80) return { len: b, head: 2 };
    const n = b & 0x7f;
    if (n < 1 || n > 3) throw bad('has a DER length it cannot be');
    return { len: der.readUIntBE(at + 2, n), head: 2 + n };
  };
  const outer = lengthAt(0);
  const inner = lengthAt(outer.head);
  const end = outer.head + inner.head + inner.len;
  if (end > der.length) throw bad('is truncated');
  return der.subarray(outer.head, end);
}

const children = (a: forge.asn1.Asn1): forge.asn1.Asn1[] => (Array.isArray(a.value) ? a.value : []);
const oidOf = (a: forge.asn1.Asn1) => asn1.derToOid(a.value as string);

export function parseCsr(pem: string): ParsedCsr {
  if (pem.length > MAX_CSR_BYTES) throw bad(`is ${pem.length} bytes, more than the ${MAX_CSR_BYTES} allowed`);
  let der: Buffer;
  let root: forge.asn1.Asn1;
  try {
    const block = forge.pem.decode(pem).find((b) => b.type === 'CERTIFICATE REQUEST');
    if (!block) throw new Error('no CERTIFICATE REQUEST block');
    der = Buffer.from(block.body, 'binary');
    // Signatures stay raw bytes: forge would otherwise read a DER-looking BIT STRING as ASN.1.
    root = (asn1.fromDer as unknown as (b: string, o: object) => forge.asn1.Asn1)(block.body, { decodeBitStrings: false });
  } catch (err) {
    throw bad(`is not PEM-encoded PKCS#10: ${(err as Error).message}`);
  }
  const [info, alg, sig] = children(root);
  const fields = info ? children(info) : [];
  if (!alg || !sig || fields.length < 3) throw bad('is not a PKCS#10 structure');
  const [, subjectAsn1, spkiAsn1, attributes] = fields;

  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from(asn1.toDer(spkiAsn1).getBytes(), 'binary'), format: 'der', type: 'spki' });
  } catch (err) {
    throw bad(`holds a public key that does not parse: ${(err as Error).message}`);
  }
  const details = publicKey.asymmetricKeyDetails ?? {};
  const keyOk = (publicKey.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') || (publicKey.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= 2048);
  if (!keyOk) throw bad(`has a ${publicKey.asymmetricKeyType} key; muster accepts ECDSA P-256 or RSA of 2048 bits and more`);
  const algOid = oidOf(children(alg)[0]);
  const expected = publicKey.asymmetricKeyType === 'ec' ? OID.ecdsaWithSha256 : OID.sha256WithRsa;
  if (algOid !== expected) throw bad(`is signed with ${algOid}, expected ${expected} for its key`);
  const signature = Buffer.from((sig.value as string).slice(1), 'binary');
  if (!verify('sha256', firstElement(der), publicKey, signature)) throw bad('has a signature that does not verify with its own key');

  const out: ParsedCsr = { publicKey, commonName: '', organizationalUnits: [], organizations: [], otherSubject: [], dnsNames: [], ipAddresses: [], otherNames: [] };
  for (const rdn of children(subjectAsn1)) {
    for (const atv of children(rdn)) {
      const [oid, value] = children(atv);
      const v = String(value?.value ?? '');
      const o = oidOf(oid);
      if (o === OID.commonName) out.commonName = v;
      else if (o === OID.organizationalUnit) out.organizationalUnits.push(v);
      else if (o === OID.organization) out.organizations.push(v);
      else out.otherSubject.push(o);
    }
  }
  for (const attr of attributes ? children(attributes) : []) {
    const [oid, set] = children(attr);
    if (oidOf(oid) !== OID.extensionRequest) continue;
    for (const ext of children(children(set)[0] ?? set)) {
      const parts = children(ext);
      if (oidOf(parts[0]) !== OID.subjectAltName) continue;
      const names = asn1.fromDer(parts[parts.length - 1].value as string);
      for (const gn of children(names)) {
        if (gn.type === 2) out.dnsNames.push(String(gn.value));
        else if (gn.type === 7) out.ipAddresses.push(ipFromBytes(Buffer.from(gn.value as string, 'binary')));
        else out.otherNames.push(gn.type);
      }
    }
  }
  return out;
}

function ipFromBytes(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  if (b.length === 16) return canonicalIp(Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16)).join(':'));
  throw bad(`has an IP address SAN of ${b.length} bytes`);
}

export interface AllowedIdentity {
  name: string;
  dnsNames: string[];
  ipAddresses: string[];
}

// A joining node may ask for its own name, with no role but agent, and only the names and
// addresses the inventory gives it.
export function checkCsrFor(csr: ParsedCsr, allowed: AllowedIdentity): void {
  const refuse = (why: string) => new ControllerError('CSR_NOT_ALLOWED', `the certificate request for ${allowed.name} ${why}`);
  if (csr.commonName !== allowed.name) throw refuse(`names ${csr.commonName ? `CN=${csr.commonName}` : 'no CN'}: a node may only ask for its own name`);
  const roles = csr.organizationalUnits.filter((ou) => ou !== 'agent');
  if (roles.length) throw refuse(`asks for the role ${roles.join(',')}: a joining node only gets the agent role`);
  if (csr.organizations.length) throw refuse(`asks for the organization ${csr.organizations.join(',')}: fleet certificates carry none`);
  if (csr.otherSubject.length) throw refuse(`has subject fields ${csr.otherSubject.join(', ')}; only CN and OU=agent are allowed`);
  if (csr.otherNames.length) throw refuse('has SANs other than DNS names and IP addresses');
  const dns = csr.dnsNames.filter((d) => !allowed.dnsNames.includes(d));
  if (dns.length) throw refuse(`asks for the DNS names ${dns.join(', ')}; allowed: ${allowed.dnsNames.join(', ')}`);
  const ips = csr.ipAddresses.filter((ip) => isIP(ip) === 0 || !allowed.ipAddresses.map(canonicalIp).includes(canonicalIp(ip)));
  if (ips.length) throw refuse(`asks for the addresses ${ips.join(', ')}; allowed: ${allowed.ipAddresses.join(', ') || 'none'}`);
}
