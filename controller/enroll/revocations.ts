import path from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { writeFileAtomic } from '../../common/atomic-write.js';
import { normalSerial } from '../../common/ca-hash.js';
import { FileLock, readJson } from './lock.js';

export interface Revoked {
  serial: string;
  name: string;
  role: string;
  revokedAt: string;
  notAfter: string;
}

interface RevocationFile {
  version: number;
  revoked: Revoked[];
}

export { normalSerial };

// The fleet's revocation list: <state>/enroll/revoked.json, read once and kept in memory by
// the enrollment service, which hands it to agents (GetRevocations).
export class RevocationList {
  private readonly file: string;
  private readonly lock: FileLock;
  private cache: { version: number; serials: Set<string> } = { version: 0, serials: new Set() };

  constructor(enrollDir: string) {
    this.file = path.join(enrollDir, 'revoked.json');
    this.lock = new FileLock(path.join(enrollDir, 'revoked.lock'));
  }

  async load(): Promise<{ version: number; revoked: Revoked[] }> {
    const data = await readJson<RevocationFile>(this.file, { version: 0, revoked: [] });
    this.cache = { version: data.version, serials: new Set(data.revoked.map((r) => normalSerial(r.serial))) };
    return data;
  }

  has(serial: string): boolean {
    return this.cache.serials.has(normalSerial(serial));
  }

  snapshot(): { version: number; serials: string[] } {
    return { version: this.cache.version, serials: [...this.cache.serials].sort() };
  }

  // Adds entries (already listed serials are kept once); entries past their notAfter are
  // dropped: an expired certificate is refused by the TLS layer anyway.
  add(entries: Revoked[], now = Date.now()): Promise<{ version: number; added: Revoked[] }> {
    return this.lock.run(async () => {
      const data = await this.load();
      const have = new Set(data.revoked.map((r) => normalSerial(r.serial)));
      const added = entries.filter((e) => !have.has(normalSerial(e.serial)));
      const revoked = [...data.revoked, ...added].filter((r) => Date.parse(r.notAfter) > now);
      const version = data.version + (added.length ? 1 : 0);
      await writeFileAtomic(this.file, JSON.stringify({ version, revoked }, null, 2) + '\n', { mode: 0o644 });
      await this.load();
      return { version, added };
    });
  }
}

// Wraps the controller's check of an agent's certificate (controller/fleet/client.ts
// checkAgentIdentity) so a revoked agent is refused at the handshake.
export function refuseRevoked(
  list: { has(serial: string): boolean },
  check: (host: string, cert: PeerCertificate) => Error | undefined,
): (host: string, cert: PeerCertificate) => Error | undefined {
  return (host, cert) =>
    list.has(cert.serialNumber ?? '') ? new Error(`agent certificate for ${host} (serial ${cert.serialNumber}) is revoked`) : check(host, cert);
}
