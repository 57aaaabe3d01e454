import type { InventoryNode } from '../inputs/inventory.js';
import type { TaskDef } from '../inputs/task-file.js';

// The variables every task and template sees for its node; the cluster adds its own.
export function nodeVars(node: InventoryNode, clusterName: string): Record<string, string> {
  return {
    NODE_NAME: node.name,
    NODE_IP: node.address,
    NODE_HOSTNAME: node.hostname,
    CLUSTER_NAME: clusterName,
  };
}

export function selects(def: Pick<TaskDef, 'on'>, node: InventoryNode): boolean {
  const on = def.on;
  if (!on) return true;
  if (on.nodes && !on.nodes.includes(node.name)) return false;
  if (on.roles && !on.roles.some((r) => node.roles.includes(r))) return false;
  if (on.labels && !Object.entries(on.labels).every(([k, v]) => node.labels[k] === v)) return false;
  return true;
}

