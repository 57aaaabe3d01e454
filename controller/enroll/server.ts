import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import { caCertHash } from '../../common/ca-hash.js';
import { MemoryCertificateProvider } from '../../common/cert-provider.js';
import { EnrollServiceService, JoinStatus, type EnrollServiceServer, type NodeFacts as WireFacts } from '../../proto/gen/muster/controller/v1/enroll.js';
import { ControllerError, controllerErrors } from '../errors.js';
import { ensureServerCert } from '../pki/fleet.js';
import type { Enrollment, NodeFacts } from './enrollment.js';

export interface EnrollServerOptions {
  enrollment: Enrollment;
  listen: { host: string; port: number };
  // Names and addresses agents dial the controller by: SANs of its enrollment server certificate.
  dnsNames?: string[];
  ipAddresses?: string[];
  // Joins signed at once; more wait in a queue of maxQueued, beyond that RATE_LIMITED.
  maxConcurrent?: number;
  maxQueued?: number;
  // An address whose joins were refused this many times in a minute is refused for that minute:
  // bootstrap tokens cannot be guessed one request at a time.
  maxRefusalsPerMinute?: number;
  log?: { warn(o: object, msg: string): void; info(o: object, msg: string): void };
  // How often the revocation list and the CA bundle are re-read (5 s).
  reloadMs?: number;
}

export interface EnrollServer {
  port: number;
  // caCertHash is what `musterd join --ca-cert-hash` pins.
  caCertHash: string;
  stop(): Promise<void>;
}

export const MAX_REQUEST_BYTES = 64 * 1024;
const GRPC_OF_HTTP: Record<number, grpc.status> = {
  400: grpc.status.INVALID_ARGUMENT,
  401: grpc.status.UNAUTHENTICATED,
  403: grpc.status.PERMISSION_DENIED,
  404: grpc.status.NOT_FOUND,
  429: grpc.status.RESOURCE_EXHAUSTED,
};

function statusOf(err: unknown): grpc.ServiceError {
  const e = err instanceof ControllerError ? err : new Error(`internal error: ${(err as Error).message}`);
  const code = err instanceof ControllerError ? (GRPC_OF_HTTP[controllerErrors[err.code].http] ?? grpc.status.INTERNAL) : grpc.status.INTERNAL;
  const details = err instanceof ControllerError ? `${err.code}: ${err.message}` : e.message;
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

function peerOf(call: { getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null }) {
  const cert = call.getAuthContext()?.sslPeerCertificate;
  if (!cert) return undefined;
  const ou = cert.subject?.OU;
  const cn = cert.subject?.CN;
  return { name: (Array.isArray(cn) ? cn[0] : cn) ?? '', roles: ou === undefined ? [] : Array.isArray(ou) ? ou : [ou], serial: cert.serialNumber };
}

const capList = (xs: string[], n: number) => xs.slice(0, n).map((s) => s.slice(0, 256));
function factsOf(f: WireFacts | undefined): NodeFacts {
  return { machineId: (f?.machineId ?? '').slice(0, 256), hostname: (f?.hostname ?? '').slice(0, 256), macs: capList(f?.macs ?? [], 64), diskSerials: capList(f?.diskSerials ?? [], 256) };
}

// A FIFO semaphore: signing is CPU work, so a burst of joins waits its turn instead of
// starving the calls that keep the fleet running.
class Gate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly max: number, private readonly maxQueued: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) {
      if (this.waiting.length >= this.maxQueued) throw new ControllerError('RATE_LIMITED', `${this.active} joins are being signed and ${this.waiting.length} wait; retry in a moment`);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

// The enrollment port: TLS with the controller's server certificate from the fleet CA; a
// client certificate is optional here only, since a joining node has none yet.
export async function startEnrollServer(o: EnrollServerOptions): Promise<EnrollServer> {
  const { enrollment } = o;
  await enrollment.init();
  const material = async () => {
    const { ca, bundle } = await enrollment.trust();
    const server = await ensureServerCert(enrollment.o.stateDir, 'enroll-server', ca, { dnsNames: o.dnsNames ?? ['localhost'], ipAddresses: o.ipAddresses ?? ['127.0.0.1'] });
    // The chain carries the CA so a joining agent can compare its hash before sending anything.
    return { ca: Buffer.from(bundle), cert: Buffer.from(server.certPem + ca.certPem), key: Buffer.from(server.keyPem), caPem: ca.certPem };
  };
  const first = await material();
  const tls = new MemoryCertificateProvider(first);
  let signingCa = first.caPem;
  const gate = new Gate(o.maxConcurrent ?? 64, o.maxQueued ?? 4096);
  const refusals = new Map<string, { count: number; since: number }>();
  const maxRefusals = o.maxRefusalsPerMinute ?? 20;
  const addressOf = (peer: string) => peer.replace(/:\d+$/, '');
  const refusedRecently = (addr: string) => {
    const r = refusals.get(addr);
    if (!r || Date.now() - r.since > 60_000) return false;
    return r.count >= maxRefusals;
  };
  const noteRefusal = (addr: string) => {
    const r = refusals.get(addr);
    if (!r || Date.now() - r.since > 60_000) refusals.set(addr, { count: 1, since: Date.now() });
    else r.count++;
    if (refusals.size > 100_000) refusals.clear();
  };

  const impl: EnrollServiceServer = {
    join(call, callback) {
      const addr = addressOf(call.getPeer());
      if (refusedRecently(addr)) return callback(statusOf(new ControllerError('RATE_LIMITED', `too many refused joins from ${addr}; wait a minute`)));
      gate
        .run(() => enrollment.join({ token: call.request.token, csrPem: call.request.csrPem, facts: factsOf(call.request.facts), peer: addr }))
        .then(
          (r) => {
            if (r.status === 'pending') return callback(null, { status: JoinStatus.JOIN_STATUS_PENDING, certPem: '', caPem: '', message: r.message });
            o.log?.info({ node: r.node.name, serial: r.node.serial, peer: addr }, 'node joined');
            callback(null, { status: JoinStatus.JOIN_STATUS_ISSUED, certPem: r.certPem, caPem: r.caPem, message: '' });
          },
          (err) => {
            if (err instanceof ControllerError && err.code !== 'RATE_LIMITED') noteRefusal(addr);
            o.log?.warn({ peer: addr, err: (err as Error).message }, 'join refused');
            callback(statusOf(err));
          },
        );
    },
    renew(call, callback) {
      enrollment.renew(peerOf(call), call.request.csrPem).then(
        (r) => callback(null, { certPem: r.certPem, caPem: r.caPem }),
        (err) => callback(statusOf(err)),
      );
    },
    getTrust(call, callback) {
      const peer = peerOf(call);
      if (!peer) return callback(statusOf(new ControllerError('NOT_AUTHENTICATED', 'GetTrust needs a fleet certificate')));
      if (enrollment.revocations.has(peer.serial)) return callback(statusOf(new ControllerError('CERT_REVOKED', `the certificate of ${peer.name} (serial ${peer.serial}) is revoked`)));
      const { version, serials } = enrollment.revocations.snapshot();
      enrollment.trust().then(
        (t) => callback(null, { revokedSerials: serials, version, caPem: t.bundle }),
        (err) => callback(statusOf(err)),
      );
    },
  };

  const grpcServer = new grpc.Server({ 'grpc.max_receive_message_length': MAX_REQUEST_BYTES, 'grpc.max_concurrent_streams': 256 });
  grpcServer.addService(EnrollServiceService, impl);
  const creds = grpc.experimental.createCertificateProviderServerCredentials(tls, tls, false);
  const port = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync(`${o.listen.host}:${o.listen.port}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  // Revocations and CA rotation steps made by another process (`muster nodes revoke`) reach
  // this one within seconds.
  const reload = setInterval(() => {
    void enrollment.revocations.load().catch(() => undefined);
    void material().then((m) => {
      if (m.ca.equals(tls.current.ca) && m.caPem === signingCa) return;
      signingCa = m.caPem;
      tls.set(m);
      o.log?.info({}, 'fleet CA bundle changed: serving with the new one');
    }, () => undefined);
  }, o.reloadMs ?? 5_000);
  reload.unref();
  return {
    port,
    caCertHash: caCertHash(first.caPem),
    async stop() {
      clearInterval(reload);
      await new Promise<void>((resolve) => grpcServer.tryShutdown(() => resolve()));
    },
  };
}
