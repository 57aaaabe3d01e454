import * as grpc from '@grpc/grpc-js';
import { AgentServiceClient, type EtcdSnapshot } from '../../proto/gen/muster/agent/v1/agent.js';
import type { InventoryNode } from '../inputs/inventory.js';
import { describeGrpcError, NodeError } from './client.js';

// The agents' etcd snapshot calls. A client of its own, named by the node like AgentClient's
// (TLS checks the node name, not the address), so snapshots stay apart from the apply path.
function clientOf(node: InventoryNode, creds: grpc.ChannelCredentials): AgentServiceClient {
  const host = node.address.includes(':') ? `[${node.address}]` : node.address;
  return new AgentServiceClient(`${host}:${node.agentPort}`, creds, { 'grpc.ssl_target_name_override': node.name, 'grpc.default_authority': node.name, 'grpc.enable_retries': 0 });
}

function call<T>(node: InventoryNode, creds: grpc.ChannelCredentials, fn: (c: AgentServiceClient, done: (err: grpc.ServiceError | null, res?: T) => void) => void): Promise<T> {
  const c = clientOf(node, creds);
  return new Promise<T>((resolve, reject) => fn(c, (err, res) => (err ? reject(new NodeError(node, err.code, describeGrpcError(node, err))) : resolve(res!)))).finally(() => c.close());
}

export function snapshotEtcd(node: InventoryNode, creds: grpc.ChannelCredentials, keep = 0, timeoutMs = 5 * 60_000): Promise<EtcdSnapshot> {
  return call<EtcdSnapshot | undefined>(node, creds, (c, done) => c.snapshotEtcd({ keep }, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => done(err, res?.snapshot))).then((s) => {
    if (!s) throw new NodeError(node, undefined, 'the agent answered SnapshotEtcd without a snapshot');
    return s;
  });
}

export function listEtcdSnapshots(node: InventoryNode, creds: grpc.ChannelCredentials, timeoutMs = 10_000): Promise<EtcdSnapshot[]> {
  return call(node, creds, (c, done) => c.listEtcdSnapshots({}, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => done(err, res?.snapshots ?? [])));
}
