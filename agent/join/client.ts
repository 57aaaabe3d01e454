import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { EnrollServiceClient, type GetTrustResponse, type JoinRequest, type JoinResponse, type RenewResponse } from '../../proto/gen/muster/controller/v1/enroll.js';

// host:port of the controller's enrollment service, and the host the TLS name is checked for.
export function parseController(s: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(s);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new Error(`--controller must be HOST:PORT, not ${JSON.stringify(s)}`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

// Every enrollment server certificate carries this DNS name.
export const CONTROLLER_NAME = 'muster-controller';

// Only the controller's enrollment certificate is accepted: the fleet CA also signs agents.
function checkController(host: string, cert: PeerCertificate): Error | undefined {
  const ou = cert.subject?.OU;
  const roles = ou === undefined ? [] : Array.isArray(ou) ? ou : [ou];
  if (!roles.includes('controller')) return new Error(`the certificate at ${host} is not the controller's (roles: ${roles.join(',') || 'none'})`);
  return checkServerIdentity(host, cert);
}

export interface EnrollCall {
  join(req: JoinRequest): Promise<JoinResponse>;
  renew(csrPem: string): Promise<RenewResponse>;
  trust(): Promise<GetTrustResponse>;
  close(): void;
}

// A client of the controller's EnrollService: without a client certificate for Join, with
// the agent's fleet certificate for Renew and GetTrust.
export function enrollClient(controller: string, tls: { ca: Buffer; cert?: Buffer; key?: Buffer }, timeoutMs = 30_000): EnrollCall {
  const { host, port } = parseController(controller);
  new X509Certificate(tls.ca); // a damaged CA fails here, naming no call
  const creds = grpc.credentials.createSsl(tls.ca, tls.key ?? null, tls.cert ?? null, { checkServerIdentity: checkController });
  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  // TLS names the controller by its role name, not by IP (RFC 6066 has no IP server names);
  // the pin step already checked the certificate for the address dialled.
  const client = new EnrollServiceClient(target, creds, { 'grpc.enable_retries': 0, 'grpc.ssl_target_name_override': CONTROLLER_NAME, 'grpc.default_authority': CONTROLLER_NAME });
  const unary = <Req, Res>(fn: (r: Req, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown, req: Req) =>
    new Promise<Res>((resolve, reject) =>
      fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(new Error(`controller ${controller}: ${err.details || err.message}`, { cause: err })) : resolve(res),
      ),
    );
  return {
    join: (req) => unary(client.join, req),
    renew: (csrPem) => unary(client.renew, { csrPem }),
    trust: () => unary(client.getTrust, {}),
    close: () => client.close(),
  };
}
