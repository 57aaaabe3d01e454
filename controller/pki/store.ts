import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../common/atomic-write.js';
import { canonicalIp, createCA, inspectCertificate, issueCertificate, type CertPair, type IssueRequest } from './certs.js';

export interface Ensured extends CertPair {
  // issued is true when this call made new material.
  issued: boolean;
}

// Certificates and keys in the controller's state folder: <dir>/<name>.crt and <name>.key (0600).
// Existing material is kept unless it no longer matches the request or expires soon.
export class PkiStore {
  constructor(readonly dir: string) {}

  async read(name: string): Promise<CertPair | undefined> {
    try {
      const [certPem, keyPem] = await Promise.all([
        fs.readFile(this.file(name, 'crt'), 'utf8'),
        fs.readFile(this.file(name, 'key'), 'utf8'),
      ]);
      return { certPem, keyPem };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async ensureCA(name: string, commonName: string): Promise<Ensured> {
    const existing = await this.read(name);
    if (existing) return { ...existing, issued: false };
    const pair = createCA(commonName);
    await this.write(name, pair);
    return { ...pair, issued: true };
  }

  async ensureIssued(name: string, ca: CertPair, req: IssueRequest, renewWithinDays = 30, caName = 'ca'): Promise<Ensured> {
    const existing = await this.read(name);
    if (existing && matches(existing, ca, req, renewWithinDays)) return { ...existing, issued: false };
    return { ...(await this.issue(name, ca, req, caName)), issued: true };
  }

  // Issues and stores a certificate, with the request beside it so `certs renew` can repeat it.
  async issue(name: string, ca: CertPair, req: IssueRequest, caName = 'ca'): Promise<CertPair> {
    const pair = issueCertificate(ca, req);
    await this.write(name, pair);
    await writeFileAtomic(path.join(this.dir, `${name}.json`), JSON.stringify({ ca: caName, request: req }, null, 2) + '\n', { mode: 0o644 });
    return pair;
  }

  async request(name: string): Promise<{ ca: string; request: IssueRequest } | undefined> {
    try {
      return JSON.parse(await fs.readFile(path.join(this.dir, `${name}.json`), 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  // Every certificate in the store, by name (sub-folders included).
  async names(): Promise<string[]> {
    let entries: string[] = [];
    try {
      entries = (await fs.readdir(this.dir, { recursive: true })) as string[];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return entries.filter((e) => e.endsWith('.crt')).map((e) => e.slice(0, -4)).sort();
  }

  async write(name: string, pair: CertPair): Promise<void> {
    // Key first: a certificate on disk always has its key beside it.
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file(name, 'key'), pair.keyPem, { mode: 0o600 });
    await writeFileAtomic(this.file(name, 'crt'), pair.certPem, { mode: 0o644 });
  }

  file(name: string, ext: 'crt' | 'key'): string {
    return path.join(this.dir, `${name}.${ext}`);
  }
}

function sameSet(a: string[], b: string[] = []): boolean {
  const sb = [...b].sort();
  return a.length === b.length && [...a].sort().every((v, i) => v === sb[i]);
}

// A stored certificate still serves a request when it names the same subject and SANs,
// is signed by this CA, and is not about to expire.
function matches(have: CertPair, ca: CertPair, req: IssueRequest, renewWithinDays: number): boolean {
  try {
    const info = inspectCertificate(have.certPem);
    if (info.daysLeft < renewWithinDays) return false;
    if (!new X509Certificate(have.certPem).verify(new X509Certificate(ca.certPem).publicKey)) return false;
    return (
      info.commonName === req.commonName &&
      sameSet(info.organizationalUnits, req.organizationalUnits) &&
      sameSet(info.organizations, req.organizations) &&
      sameSet(info.dnsNames, req.dnsNames) &&
      sameSet(info.ipAddresses, (req.ipAddresses ?? []).map(canonicalIp))
    );
  } catch {
    return false;
  }
}
