import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import type { MemoryCertificateProvider } from '../../common/cert-provider.js';
import { normalSerial, splitPemBundle } from '../../common/ca-hash.js';
import { writeFileAtomic } from '../../common/atomic-write.js';
import { enrollClient } from './client.js';
import { writeCredentials, type TlsPaths } from './join.js';

// Revoked serials as the agent last heard them from the controller.
export class RevokedSerials {
  private serials = new Set<string>();
  version = 0;
  has(serial: string): boolean {
    return this.serials.has(normalSerial(serial));
  }
  set(version: number, serials: string[]): void {
    this.version = version;
    this.serials = new Set(serials.map(normalSerial));
  }
}

export interface LifecycleOptions {
  name: string;
  controller: string;
  tls: TlsPaths;
  // The credentials the agent's gRPC server presents; renewal swaps them in place.
  provider: MemoryCertificateProvider;
  revoked: RevokedSerials;
  trustEveryMs?: number;
  log: { info(o: object, msg: string): void; warn(o: object, msg: string): void };
  // now and jitter are injected by tests.
  now?: () => number;
  jitter?: () => number;
}

// When a certificate is due: two thirds into its life, minus up to a tenth of it at random so
// a fleet made in one day does not renew in the same second.
export function renewAt(certPem: string, jitter = Math.random()): number {
  const x = new X509Certificate(certPem);
  const from = Date.parse(x.validFrom);
  const life = Date.parse(x.validTo) - from;
  return from + (life * 2) / 3 - jitter * life * 0.1;
}

// The agent's side of the certificate lifecycle: renewal before two thirds of the life, and
// the revocation list and CA bundle fetched from the controller on a timer.
export function startLifecycle(o: LifecycleOptions): { renewNow(): Promise<void>; refreshTrust(): Promise<void>; stop(): void } {
  const now = o.now ?? Date.now;
  let renewTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  const client = () => enrollClient(o.controller, o.provider.current);

  const renewNow = async () => {
    const c = client();
    try {
      const { makeKeyAndCsr } = await import('./csr.js');
      const { keyPem, csrPem } = await makeKeyAndCsr({ name: o.name, dnsNames: new X509Certificate(o.provider.current.cert).subjectAltName?.split(', ').filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)) ?? [o.name] });
      const res = await c.renew(csrPem);
      await writeCredentials(o.tls, { keyPem, certPem: res.certPem, caPem: res.caPem });
      o.provider.set({ ca: Buffer.from(res.caPem), cert: Buffer.from(res.certPem), key: Buffer.from(keyPem) });
      o.log.info({ serial: new X509Certificate(res.certPem).serialNumber, notAfter: new X509Certificate(res.certPem).validTo }, 'fleet certificate renewed');
    } finally {
      c.close();
    }
  };

  const schedule = (retryMs?: number) => {
    if (stopped) return;
    const at = retryMs !== undefined ? now() + retryMs : renewAt(o.provider.current.cert.toString(), o.jitter?.() ?? Math.random());
    // setTimeout holds 24.8 days at most: a longer wait is taken in steps.
    renewTimer = setTimeout(() => {
      if (now() < at) return schedule(Math.max(0, at - now()));
      renewNow().then(
        () => schedule(),
        (err) => {
          o.log.warn({ err: (err as Error).message }, 'certificate renewal failed; retrying in a minute');
          schedule(60_000);
        },
      );
    }, Math.min(Math.max(0, at - now()), 2 ** 31 - 1));
    renewTimer.unref();
  };

  const refreshTrust = async () => {
    const c = client();
    try {
      const t = await c.trust();
      o.revoked.set(t.version, t.revokedSerials);
      const current = o.provider.current;
      // A new bundle (a CA rotation) is trusted only if the agent's own certificate still chains to it.
      if (t.caPem && t.caPem !== current.ca.toString()) {
        const cert = new X509Certificate(current.cert);
        const cas = splitPemBundle(t.caPem).map((p) => new X509Certificate(p));
        if (!cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) throw new Error('the controller sent a CA bundle that does not hold this agent\'s issuer; kept the old one');
        await writeFileAtomic(o.tls.ca, t.caPem, { mode: 0o644 });
        o.provider.set({ ...current, ca: Buffer.from(t.caPem) });
        o.log.info({ cas: cas.length }, 'fleet CA bundle updated');
        // The first CA of the bundle signs now: a certificate from another one is renewed at once.
        if (!cert.checkIssued(cas[0])) await renewNow();
      }
    } finally {
      c.close();
    }
  };
  const trustTimer = setInterval(() => void refreshTrust().catch((err) => o.log.warn({ err: (err as Error).message }, 'could not fetch the revocation list')), o.trustEveryMs ?? 60_000);
  trustTimer.unref();
  void refreshTrust().catch((err) => o.log.warn({ err: (err as Error).message }, 'could not fetch the revocation list'));
  schedule();
  return {
    renewNow,
    refreshTrust,
    stop() {
      stopped = true;
      clearTimeout(renewTimer);
      clearInterval(trustTimer);
    },
  };
}

// Reads the agent's credentials as the server needs them.
export async function readCredentials(paths: TlsPaths): Promise<{ ca: Buffer; cert: Buffer; key: Buffer }> {
  const [ca, cert, key] = await Promise.all([fs.readFile(paths.ca), fs.readFile(paths.cert), fs.readFile(paths.key)]);
  return { ca, cert, key };
}
