import { status as grpcStatus } from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../common/atomic-write.js';
import { JoinStatus, type NodeFacts } from '../../proto/gen/muster/controller/v1/enroll.js';
import { enrollClient, parseController } from './client.js';
import { makeKeyAndCsr } from './csr.js';
import { fetchPinnedCa } from './pin.js';

export interface JoinSettings {
  controller: string;
  token: string;
  caCertHash: string;
}

export interface TlsPaths {
  ca: string;
  cert: string;
  key: string;
}

export interface JoinOptions extends JoinSettings {
  name: string;
  tls: TlsPaths;
  // Names and addresses to ask for (the controller grants only the inventory's).
  dnsNames?: string[];
  ipAddresses?: string[];
  facts?: NodeFacts;
  // While the controller answers PENDING (approval policy) the agent asks again every pollMs.
  pollMs?: number;
  waitMs?: number;
  log?: { info(o: object, msg: string): void };
}

// Writes the agent's credentials: key first (0600), so a certificate on disk always has its key.
export async function writeCredentials(paths: TlsPaths, c: { keyPem: string; certPem: string; caPem: string }): Promise<void> {
  await fs.mkdir(path.dirname(paths.key), { recursive: true, mode: 0o700 });
  await writeFileAtomic(paths.key, c.keyPem, { mode: 0o600 });
  await writeFileAtomic(paths.cert, c.certPem, { mode: 0o644 });
  await writeFileAtomic(paths.ca, c.caPem, { mode: 0o644 });
}

// What the node tells the controller about itself, to recognise the machine later.
export async function nodeFacts(): Promise<NodeFacts> {
  const { collect } = await import('../facts/facts.js');
  const { default: si } = await import('systeminformation');
  const [facts, ids] = await Promise.all([collect(), si.uuid()]);
  return {
    machineId: ids.os ?? '',
    hostname: facts.hostname,
    macs: facts.interfaces.map((i) => i.mac).filter((m) => m && m !== '00:00:00:00:00:00'),
    diskSerials: facts.disks.map((d) => d.serial).filter(Boolean),
  };
}

// musterd join: pin the fleet CA, make a key here, send a CSR and the node's facts, write the
// certificate. Nothing is written unless the controller issued one.
export async function joinFleet(o: JoinOptions): Promise<{ certPem: string; caPem: string }> {
  const { host, port } = parseController(o.controller);
  const caPem = await fetchPinnedCa(host, port, o.caCertHash);
  const { keyPem, csrPem } = await makeKeyAndCsr({ name: o.name, dnsNames: o.dnsNames ?? [o.name], ipAddresses: o.ipAddresses });
  const client = enrollClient(o.controller, { ca: Buffer.from(caPem) });
  const facts = o.facts ?? (await nodeFacts());
  const deadline = Date.now() + (o.waitMs ?? 3_600_000);
  try {
    for (;;) {
      const res = await client.join({ token: o.token, csrPem, facts }).catch(async (err: Error & { cause?: { code?: number } }) => {
        // Busy (RATE_LIMITED) or unreachable for a moment: wait 1-5 s and ask again; a refusal is final.
        const code = err.cause?.code;
        if ((code !== grpcStatus.RESOURCE_EXHAUSTED && code !== grpcStatus.UNAVAILABLE) || Date.now() > deadline || /too many refused/.test(err.message)) throw err;
        await new Promise((r) => setTimeout(r, 1000 + Math.random() * 4000));
        return undefined;
      });
      if (!res) continue;
      if (res.status === JoinStatus.JOIN_STATUS_ISSUED) {
        const cert = new X509Certificate(res.certPem);
        if (!cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(keyPem))) throw new Error('the controller returned a certificate for another key');
        await writeCredentials(o.tls, { keyPem, certPem: res.certPem, caPem: res.caPem || caPem });
        o.log?.info({ serial: cert.serialNumber, notAfter: cert.validTo }, 'joined the fleet');
        return { certPem: res.certPem, caPem: res.caPem || caPem };
      }
      if (Date.now() > deadline) throw new Error(`gave up waiting for approval: ${res.message}`);
      o.log?.info({ controller: o.controller }, res.message || 'waiting for approval');
      await new Promise((r) => setTimeout(r, o.pollMs ?? 5_000));
    }
  } finally {
    client.close();
  }
}
