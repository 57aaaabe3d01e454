import type * as grpc from '@grpc/grpc-js';
import { ApplyMode, type Plan, type TaskResult } from '../../proto/gen/muster/agent/v1/agent.js';
import type { FleetCredentials } from '../pki/fleet.js';
import type { InventoryNode } from '../inputs/inventory.js';
import { AgentClient, fleetChannelCredentials, type ApplyOutcome } from './client.js';

// Runs fn over items with at most `limit` in flight, keeping the input order in the output.
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

export interface FleetRunOptions {
  mode: ApplyMode;
  concurrency: number;
  timeoutMs: number;
  onTask?: (node: string, result: TaskResult) => void;
  onNode?: (outcome: ApplyOutcome) => void;
  // Each node's plan generation (from the store), sent so the agent refuses an older one.
  generations?: ReadonlyMap<string, number>;
}

// One client per node for the life of a command (or of muster serve); fan-out is bounded by
// the concurrency limit.
export class Fleet {
  private readonly clients = new Map<string, AgentClient>();
  private readonly creds: grpc.ChannelCredentials;

  constructor(public nodes: InventoryNode[], creds: FleetCredentials) {
    this.creds = fleetChannelCredentials(creds);
  }

  // The credentials of its channels, for calls on a channel of their own (etcd snapshots).
  get channelCredentials(): grpc.ChannelCredentials {
    return this.creds;
  }

  // The nodes of an inventory read again: a node whose address or port changed gets a new channel.
  // Each held channel is checked against the node it was made for (a map look-up: every serve job
  // calls this, and a scan of the old nodes per node grew with the fleet's square).
  update(nodes: InventoryNode[]): void {
    for (const n of nodes) {
      const was = this.clients.get(n.name)?.node;
      if (was && (was.address !== n.address || was.agentPort !== n.agentPort)) {
        this.clients.get(n.name)!.close();
        this.clients.delete(n.name);
      }
    }
    this.nodes = nodes;
  }

  client(node: InventoryNode): AgentClient {
    let c = this.clients.get(node.name);
    if (!c) {
      c = new AgentClient(node, this.creds);
      this.clients.set(node.name, c);
    }
    return c;
  }

  async run(plans: Plan[], options: FleetRunOptions): Promise<ApplyOutcome[]> {
    const byName = new Map(this.nodes.map((n) => [n.name, n]));
    return mapLimit(plans, options.concurrency, async (plan) => {
      const node = byName.get(plan.node);
      if (!node) throw new Error(`plan for ${plan.node}, which is not in the inventory`);
      const outcome = await this.client(node).apply(plan, options.mode, {
        timeoutMs: options.timeoutMs,
        generation: options.generations?.get(node.name),
        onTask: options.onTask && ((r) => options.onTask!(node.name, r)),
      });
      options.onNode?.(outcome);
      return outcome;
    });
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
