import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type Forge from 'node-forge';

// A new ECDSA P-256 key made on this node (it never leaves) and a PKCS#10 request for it.
// node-forge lays out the request; node:crypto signs, since forge only signs with RSA keys.
// forge is loaded here only, on join and renewal: an idle agent never holds it.
export async function makeKeyAndCsr(o: { name: string; dnsNames?: string[]; ipAddresses?: string[]; key?: KeyObject; organizationalUnits?: string[] }): Promise<{ keyPem: string; csrPem: string }> {
  const { default: forge } = await import('node-forge');
  const asn1 = forge.asn1;
  const key = o.key ?? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const csr = forge.pki.createCertificationRequest();
  csr.setSubject([...(o.organizationalUnits ?? ['agent']).map((value) => ({ shortName: 'OU', value })), { name: 'commonName', value: o.name }]);
  const altNames = [...(o.dnsNames ?? []).map((value) => ({ type: 2, value })), ...(o.ipAddresses ?? []).map((ip) => ({ type: 7, ip }))];
  if (altNames.length) csr.setAttributes([{ name: 'extensionRequest', extensions: [{ name: 'subjectAltName', altNames }] }]);
  // A placeholder key lets forge encode the request info; the real key info replaces it.
  csr.publicKey = forge.pki.setRsaPublicKey(new forge.jsbn.BigInteger('3'), new forge.jsbn.BigInteger('3'));
  const info = (forge.pki as unknown as { getCertificationRequestInfo(c: Forge.pki.CertificateSigningRequest): Forge.asn1.Asn1 }).getCertificationRequestInfo(csr);
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  (info.value as Forge.asn1.Asn1[])[2] = asn1.fromDer(spki.toString('binary'));
  const infoDer = Buffer.from(asn1.toDer(info).getBytes(), 'binary');
  const isEc = key.asymmetricKeyType === 'ec';
  const algOid = isEc ? '1.2.840.10045.4.3.2' : '1.2.840.113549.1.1.11';
  const alg = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(algOid).getBytes()),
    ...(isEc ? [] : [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')]),
  ]);
  const signature = sign('sha256', infoDer, key);
  const req = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    info,
    alg,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, '\x00' + signature.toString('binary')),
  ]);
  const csrPem = forge.pem.encode({ type: 'CERTIFICATE REQUEST', body: asn1.toDer(req).getBytes() }, { maxline: 64 }).replace(/\r\n/g, '\n');
  return { keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(), csrPem };
}
