import { X509Certificate } from 'node:crypto';
import tls, { type DetailedPeerCertificate } from 'node:tls';
import { CA_HASH_FORMAT, caCertHash } from '../../common/ca-hash.js';

const toPem = (raw: Buffer) => `-----BEGIN CERTIFICATE-----\n${raw.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;

// Opens TLS to the controller, sends nothing, and returns the fleet CA from the presented
// chain only if its public key hash is the pinned one and it signed the controller's
// certificate for this host: no trust on first use.
export async function fetchPinnedCa(host: string, port: number, pinned: string, timeoutMs = 10_000): Promise<string> {
  if (!CA_HASH_FORMAT.test(pinned)) throw new Error(`--ca-cert-hash must be sha256:<64 hex digits> (as "muster token create" prints), not ${JSON.stringify(pinned)}`);
  const chain = await new Promise<DetailedPeerCertificate>((resolve, reject) => {
    // Verification is ours, below, against the pin: the CA is not known yet.
    const socket = tls.connect({ host, port, servername: net(host) ? undefined : host, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no TLS answer from ${host}:${port} within ${timeoutMs} ms`)));
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate(true);
      socket.destroy();
      resolve(peer);
    });
    socket.once('error', (err) => reject(new Error(`cannot reach the controller at ${host}:${port}: ${err.message}`)));
  });
  if (!chain?.raw) throw new Error(`the controller at ${host}:${port} presented no certificate`);
  const leaf = new X509Certificate(chain.raw);
  const presented: X509Certificate[] = [];
  for (let c: DetailedPeerCertificate | undefined = chain.issuerCertificate; c?.raw && !presented.some((p) => p.raw.equals(c!.raw)); c = c.issuerCertificate) {
    presented.push(new X509Certificate(c.raw));
  }
  const ca = presented.find((c) => c.ca && caCertHash(c) === pinned);
  if (!ca) {
    const seen = presented.filter((c) => c.ca).map((c) => caCertHash(c));
    throw new Error(`the controller at ${host}:${port} is not the one pinned: its CA hash is ${seen.join(' or ') || '(no CA in its chain)'}, --ca-cert-hash is ${pinned}; nothing was sent`);
  }
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) throw new Error(`the controller's certificate at ${host}:${port} is not signed by the pinned CA ${pinned}; nothing was sent`);
  const now = Date.now();
  if (Date.parse(leaf.validTo) < now || Date.parse(leaf.validFrom) > now) throw new Error(`the controller's certificate at ${host}:${port} is expired or not valid yet (${leaf.validFrom} to ${leaf.validTo})`);
  const nameError = tls.checkServerIdentity(host, chain);
  if (nameError) throw new Error(`the controller's certificate is not for ${host}: ${nameError.message}`);
  return toPem(ca.raw);
}

function net(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
