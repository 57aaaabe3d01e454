import type { EtcdSnapshot } from '../../proto/gen/muster/agent/v1/agent.js';
import { ControllerError } from '../errors.js';
import { fleetChannelCredentials } from '../fleet/client.js';
import { listEtcdSnapshots, snapshotEtcd } from '../fleet/etcd-snapshots.js';
import { loadInventory, type InventoryNode } from '../inputs/inventory.js';
import { readFleetCredentials } from '../pki/fleet.js';
import type { FleetOptions } from './status.js';

// muster etcd snapshot / snapshots: the agents on etcd nodes save and list snapshots.

async function etcdNodes(o: FleetOptions & { node?: string }): Promise<InventoryNode[]> {
  const inv = await loadInventory(o.inventory);
  const etcd = inv.nodes.filter((n) => n.roles.includes('etcd'));
  if (!o.node) {
    if (!etcd.length) throw new ControllerError('UNKNOWN_NODE', `the inventory ${inv.file} has no etcd node`);
    return etcd;
  }
  const node = inv.nodes.find((n) => n.name === o.node);
  if (!node) throw new ControllerError('UNKNOWN_NODE', `node ${o.node} is not in ${inv.file}`);
  if (!node.roles.includes('etcd')) throw new ControllerError('UNKNOWN_NODE', `node ${o.node} is not an etcd node in ${inv.file}`);
  return [node];
}

// One snapshot on the given node, or on the first etcd node that takes one.
export async function takeEtcdSnapshot(o: FleetOptions & { node?: string; keep?: number }): Promise<{ node: string; snapshot: EtcdSnapshot; tried: { node: string; error: string }[] }> {
  const creds = fleetChannelCredentials(await readFleetCredentials(o.state));
  const tried: { node: string; error: string }[] = [];
  for (const node of await etcdNodes(o)) {
    try {
      return { node: node.name, snapshot: await snapshotEtcd(node, creds, o.keep ?? 0), tried };
    } catch (err) {
      tried.push({ node: node.name, error: (err as Error).message });
    }
  }
  throw new ControllerError('NODE_UNREACHABLE', `no etcd snapshot taken: ${tried.map((t) => t.error).join('; ')}`);
}

export interface SnapshotRow extends EtcdSnapshot {
  node: string;
}

// Every etcd node's snapshots, newest first per node; nodes that did not answer are named.
export async function etcdSnapshots(o: FleetOptions & { node?: string }): Promise<{ rows: SnapshotRow[]; errors: { node: string; error: string }[] }> {
  const creds = fleetChannelCredentials(await readFleetCredentials(o.state));
  const rows: SnapshotRow[] = [];
  const errors: { node: string; error: string }[] = [];
  await Promise.all((await etcdNodes(o)).map(async (node) => {
    try {
      rows.push(...(await listEtcdSnapshots(node, creds)).map((s) => ({ node: node.name, ...s })));
    } catch (err) {
      errors.push({ node: node.name, error: (err as Error).message });
    }
  }));
  rows.sort((a, b) => a.node.localeCompare(b.node) || b.createdAtMs - a.createdAtMs);
  return { rows, errors: errors.sort((a, b) => a.node.localeCompare(b.node)) };
}
