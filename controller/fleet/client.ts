import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
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
import type { FleetCredentials } from '../pki/fleet.js';
import type { InventoryNode } from '../inputs/inventory.js';

export interface ApplyOutcome {
  node: string;
  results: TaskResult[];
  summary?: ApplySummary;
  // error is set when the node could not be reached or refused the call.
  error?: string;
  durationMs: number;
}

export class NodeError extends Error {
  constructor(readonly node: InventoryNode, readonly grpcCode: number | undefined, message: string) {
    super(`node ${node.name} (${node.address}:${node.agentPort}): ${message}`);
    this.name = 'NodeError';
  }
}

export function describeGrpcError(err: grpc.ServiceError): string {
  const name = grpc.status[err.code] ?? String(err.code);
  if (err.code === grpc.status.UNAVAILABLE) return `unreachable (${name}): ${err.details}`;
  if (err.code === grpc.status.DEADLINE_EXCEEDED) return `no answer before the deadline (${name})`;
  return `${name}: ${err.details}`;
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
export function fleetChannelCredentials(creds: FleetCredentials): grpc.ChannelCredentials {
  new X509Certificate(creds.ca.certPem); // fail early on a damaged CA file
  return grpc.credentials.createSsl(Buffer.from(creds.ca.certPem), Buffer.from(creds.controller.keyPem), Buffer.from(creds.controller.certPem), {
    checkServerIdentity: checkAgentIdentity,
  });
}

export class AgentClient {
  private readonly client: AgentServiceClient;

  constructor(readonly node: InventoryNode, creds: grpc.ChannelCredentials) {
    const host = node.address.includes(':') ? `[${node.address}]` : node.address;
    this.client = new AgentServiceClient(`${host}:${node.agentPort}`, creds, {
      'grpc.max_receive_message_length': 64 << 20,
      'grpc.max_send_message_length': 64 << 20,
      // One attempt per call: the fleet layer reports the node instead of retrying silently.
      'grpc.enable_retries': 0,
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
      const done = (error?: string) =>
        resolve({ node: this.node.name, results, summary, error, durationMs: performance.now() - started });
      call.on('data', (ev) => {
        if (ev.task) {
          results.push(ev.task);
          options.onTask?.(ev.task);
        }
        if (ev.summary) summary = ev.summary;
      });
      call.on('error', (err: grpc.ServiceError) => done(describeGrpcError(err)));
      call.on('end', () => done(summary ? undefined : 'the agent ended the stream without a summary'));
    });
  }

  status(timeoutMs = 10_000): Promise<GetStatusResponse> {
    return new Promise((resolve, reject) =>
      this.client.getStatus({}, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(new NodeError(this.node, err.code, describeGrpcError(err))) : resolve(res),
      ),
    );
  }

  facts(refresh: boolean, timeoutMs = 30_000): Promise<GetFactsResponse> {
    return new Promise((resolve, reject) =>
      this.client.getFacts({ refresh }, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(new NodeError(this.node, err.code, describeGrpcError(err))) : resolve(res),
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
    call.on('error', (err: grpc.ServiceError) => end(describeGrpcError(err)));
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
