import { createCA, issueCertificate, type CertPair } from '../../controller/pki/certs.js';

// Certificates for tests, made once per process: RSA key generation is the slow part.
let cached: { ca: CertPair; other: CertPair; leaf: CertPair; leaf2: CertPair; expired: CertPair } | undefined;

export function testCerts() {
  if (cached) return cached;
  const ca = createCA('test-ca');
  const other = createCA('other-ca');
  const leaf = issueCertificate(ca, { commonName: 'kube-apiserver', dnsNames: ['kubernetes', 'm1'], ipAddresses: ['10.0.0.1'], usages: ['server'] });
  const leaf2 = issueCertificate(ca, { commonName: 'kube-apiserver-2', dnsNames: ['kubernetes'], usages: ['server'] });
  const expired = issueCertificate(ca, {
    commonName: 'old',
    usages: ['server'],
    notBefore: new Date(Date.now() - 10 * 86_400_000),
    notAfter: new Date(Date.now() - 86_400_000),
  });
  cached = { ca, other, leaf, leaf2, expired };
  return cached;
}

export { issueCertificate } from '../../controller/pki/certs.js';
