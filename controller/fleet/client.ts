import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import {
  AgentServiceClient,
  ApplyMode,
  type ApplySummary,
  type GetFactsResponse,
  type GetStatusResponse,
  type Plan,
  type TaskResult,
  type WatchStatusResponse,
} from '../../proto/gen/muster/agent/v1/agent.js';
import { refuseRevoked } from '../enroll/revocations.js';
import type { FleetCredentials } from '../pki/fleet.js';
import type { InventoryNode } from '../inputs/inventory.js';

export interface ApplyOutcome {
  node: string;
  results: TaskResult[];
  summary?: ApplySummary;
  // error is set when the node could not be reached or refused the call.
  error?: string;
  // The call's gRPC status code when it failed (UNAVAILABLE, FAILED_PRECONDITION, ...).
  grpcCode?: number;
  durationMs: number;
}

export class NodeError extends Error {
  constructor(readonly node: InventoryNode, readonly grpcCode: number | undefined, message: string) {
    super(message);
    this.name = 'NodeError';
  }
}

export function endpointOf(node: InventoryNode): string {
  return `${node.address.includes(':') ? `[${node.address}]` : node.address}:${node.agentPort}`;
}

// The gRPC target: an IP address through grpc-js's ipv4:/ipv6: resolver, so a held channel
// does not carry a c-ares DNS resolver of its own (7 KiB each) for a name it never looks up.
export function targetOf(node: InventoryNode): string {
  const family = isIP(node.address);
  return family ? `ipv${family}:${endpointOf(node)}` : endpointOf(node);
}

// grpc-js details carry resolver notes and the transport's words; keep the cause only.
function causeOf(details: string): string {
  return details
    .replace(/\s*Resolution note:.*$/s, '')
    .replace(/^No connection established\. Last error: /, '')
    .replace(/^(Error: )+/, '')
    .replace(/\.\s*$/, '')
    .trim();
}

// Every gRPC failure as one sentence that names the node, its address and what to check.
export function describeGrpcError(node: InventoryNode, err: Pick<grpc.ServiceError, 'code' | 'details'>, timeoutMs?: number): string {
  const at = `${node.name} (${endpointOf(node)})`;
  const cause = causeOf(err.details ?? '');
  const port = node.agentPort;
  switch (err.code) {
    case grpc.status.UNAVAILABLE:
      if (/ECONNREFUSED/.test(cause)) return `${at} refused the connection: check that musterd runs on ${node.name} and listens on port ${port} (systemctl status musterd), and that the inventory's address and agentPort are right`;
      if (/ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EHOSTDOWN/.test(cause)) return `${at} cannot be reached over the network (${cause.match(/E[A-Z]+/)![0]}): check the node's address in the inventory, that the machine is up, and that no firewall drops port ${port}`;
      if (/agent certificate for .* is revoked/.test(cause)) return `${at} was refused by the controller: its agent certificate (${cause.match(/serial [0-9A-Fa-f:]+/)?.[0] ?? 'serial unknown'}) is on the fleet's revocation list (muster nodes revoke); to bring the machine back, enroll it again (muster token create, then musterd join on the node)`;
      if (/agent certificate is for|lacks the agent role/.test(cause)) return `${at} presented the wrong certificate (${cause.replace(/^.*?(agent certificate)/, '$1')}): the address may now belong to another machine; check the inventory, or reinstall that node's certificate from "muster init"`;
      if (/certificate|SSL|TLS|handshake|self[- ]signed|verify/i.test(cause)) return `${at} failed the TLS handshake (${cause}): the agent's certificate must come from this fleet's CA: join the node again (muster token create, then musterd join there), or install pki/fleet/ca.crt and the node's certificate from the controller's state folder ("muster init") on the node and restart musterd`;
      if (/ECONNRESET|socket hang up|closed|EPIPE/i.test(cause)) return `${at} closed the connection (${cause}): check the agent's log (journalctl -u musterd) and that the port belongs to musterd`;
      return `${at} is unavailable (${cause || 'no detail'}): check that musterd runs there and its log (journalctl -u musterd)`;
    case grpc.status.DEADLINE_EXCEEDED:
      return `${at} did not answer${timeoutMs ? ` within ${Math.round(timeoutMs / 1000)} s` : ' before the deadline'}: the agent may be busy or the network slow; check the agent's log (journalctl -u musterd) or raise --timeout`;
    case grpc.status.PERMISSION_DENIED:
      if (/ is revoked/.test(cause)) return `${at} refused the call (${cause.replace(/^PERMISSION_DENIED: /, '')}): that certificate is on the fleet's revocation list; use one issued since (muster certs issue, or the controller's own)`;
      return `${at} refused the call (${cause.replace(/^PERMISSION_DENIED: /, '')}): use the controller certificate made by "muster init" in this state folder`;
    case grpc.status.UNAUTHENTICATED:
      return `${at} did not accept the controller's certificate (${cause}): the agent trusts another fleet CA; reinstall its CA and certificate from "muster init"`;
    case grpc.status.CANCELLED:
      return `${at}: the call was cancelled (${cause || 'no detail'})`;
    default:
      return `${at} answered ${grpc.status[err.code] ?? err.code}: ${cause}`;
  }
}

// Each agent must present a fleet certificate for the node name the controller dialled (the TLS
// server name is set to it), with the agent role: an address alone could be another machine.
export function checkAgentIdentity(nodeName: string, cert: PeerCertificate): Error | undefined {
  const ou = cert.subject?.OU;
  const roles = ou === undefined ? [] : Array.isArray(ou) ? ou : [ou];
  if (cert.subject?.CN !== nodeName) return new Error(`agent certificate is for ${String(cert.subject?.CN)}, expected ${nodeName}`);
  if (!roles.includes('agent')) return new Error(`agent certificate for ${nodeName} lacks the agent role`);
  return checkServerIdentity(nodeName, cert);
}

// One credentials object (one TLS context) for the whole fleet: building a context per node
// costs about a millisecond of CPU each, which adds up at a thousand agents.
// The trust bundle (not ca.crt alone) so agents renewed from a rotated CA still verify.
export function fleetChannelCredentials(creds: FleetCredentials): grpc.ChannelCredentials {
  new X509Certificate(creds.ca.certPem); // fail early on a damaged CA file
  return grpc.credentials.createSsl(Buffer.from(creds.trustPem ?? creds.ca.certPem), Buffer.from(creds.controller.keyPem), Buffer.from(creds.controller.certPem), {
    checkServerIdentity: creds.revoked ? refuseRevoked(creds.revoked, checkAgentIdentity) : checkAgentIdentity,
  });
}

export class AgentClient {
  private readonly client: AgentServiceClient;

  constructor(readonly node: InventoryNode, creds: grpc.ChannelCredentials) {
    this.client = new AgentServiceClient(targetOf(node), creds, {
      'grpc.max_receive_message_length': 64 << 20,
      'grpc.max_send_message_length': 64 << 20,
      // One attempt per call: the fleet layer reports the node instead of retrying silently.
      'grpc.enable_retries': 0,
      'grpc.enable_channelz': 0,
      // TLS names the agent by its node name (a SAN of its certificate), not by IP (RFC 6066).
      'grpc.ssl_target_name_override': node.name,
      'grpc.default_authority': node.name,
    });
  }

  // generation (0: unset) lets the agent refuse an older plan unless rollback is set (undo only).
  apply(plan: Plan, mode: ApplyMode, options: { timeoutMs: number; onTask?: (r: TaskResult) => void; generation?: number; rollback?: boolean }): Promise<ApplyOutcome> {
    const started = performance.now();
    return new Promise((resolve) => {
      const results: TaskResult[] = [];
      let summary: ApplySummary | undefined;
      const call = this.client.apply({ mode, plan, generation: options.generation || undefined, rollback: options.rollback || undefined }, { deadline: Date.now() + options.timeoutMs });
      const done = (error?: string, grpcCode?: number) =>
        resolve({ node: this.node.name, results, summary, error, grpcCode, durationMs: performance.now() - started });
      call.on('data', (ev) => {
        if (ev.task) {
          results.push(ev.task);
          options.onTask?.(ev.task);
        }
        if (ev.summary) summary = ev.summary;
      });
      call.on('error', (err: grpc.ServiceError) => done(describeGrpcError(this.node, err, options.timeoutMs), err.code));
      call.on('end', () => done(summary ? undefined : 'the agent ended the stream without a summary'));
    });
  }

  status(timeoutMs = 10_000): Promise<GetStatusResponse> {
    return new Promise((resolve, reject) =>
      this.client.getStatus({}, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(new NodeError(this.node, err.code, describeGrpcError(this.node, err, timeoutMs))) : resolve(res),
      ),
    );
  }

  facts(refresh: boolean, timeoutMs = 30_000): Promise<GetFactsResponse> {
    return new Promise((resolve, reject) =>
      this.client.getFacts({ refresh }, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(new NodeError(this.node, err.code, describeGrpcError(this.node, err, timeoutMs))) : resolve(res),
      ),
    );
  }

  // Streams the node's status and drift events until cancelled; onEnd gets the reason.
  watch(onEvent: (e: WatchStatusResponse) => void, onEnd: (error?: string) => void): () => void {
    const call = this.client.watchStatus({});
    let ended = false;
    // grpc-js may emit both 'error' and 'end': the first says why.
    const end = (why: string) => {
      if (ended) return;
      ended = true;
      onEnd(why);
    };
    call.on('data', onEvent);
    call.on('error', (err: grpc.ServiceError) => end(describeGrpcError(this.node, err)));
    call.on('end', () => end('the agent closed the stream'));
    return () => {
      ended = true;
      call.cancel();
    };
  }

  close(): void {
    this.client.close();
  }
}
