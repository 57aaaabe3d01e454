import { X509Certificate, createHash } from 'node:crypto';

// kubeadm's --discovery-token-ca-cert-hash: "sha256:" + hex of the SHA-256 of the CA
// certificate's DER SubjectPublicKeyInfo. It survives re-issuing the CA with the same key.
export const CA_HASH_FORMAT = /^sha256:[0-9a-f]{64}$/;

export function caCertHash(cert: string | Buffer | X509Certificate): string {
  const x = cert instanceof X509Certificate ? cert : new X509Certificate(cert);
  return 'sha256:' + createHash('sha256').update(x.publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

// Serials compared upper-case without leading zeros: tls and X509Certificate print them differently.
export const normalSerial = (s: string) => s.toUpperCase().replace(/^0+(?=.)/, '');

// Every certificate of a PEM bundle (a CA rotation trusts two).
export function splitPemBundle(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((b) => b + '\n') ?? [];
}
