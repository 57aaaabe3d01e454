import { DriftPolicy } from '../../../proto/gen/muster/agent/v1/agent.js';
import { SpecError } from '../../../common/yaml-load.js';
import type { ClusterSpec } from '../../inputs/cluster.js';
import type { Inventory, InventoryNode } from '../../inputs/inventory.js';
import { clusterRequests } from '../../pki/cluster.js';
import type { NodeDraft, Rendered } from '../draft.js';
import { buildModel } from './build-model.js';
import { clusterContext, type ClusterContext } from './context.js';
import { nodeHandlers, nodeTasks } from './node-tasks.js';
import { controlPlaneTasks, etcdTasks, lbTasks, probesFor, storageTasks } from './roles.js';

// One node's draft, by role. What nodes share, ctx renders once (ClusterContext.shared): a
// context of its own per node gives the same draft, only slower.
export function renderNode(ctx: ClusterContext, n: InventoryNode): NodeDraft {
  const lb = n.roles.includes('lb') ? lbTasks(ctx, n) : { tasks: [], handlers: [] };
  return {
    node: n.name,
    tasks: [
      // Storage first: /var/lib/etcd is mounted before etcd's manifest appears; then the
      // runtime and the kubelet, so the static pods below have something to start them.
      ...storageTasks(ctx, n),
      ...nodeTasks(ctx, n),
      ...(n.roles.includes('etcd') ? etcdTasks(ctx, n) : []),
      ...(n.roles.includes('control-plane') ? controlPlaneTasks(ctx, n) : []),
      ...lb.tasks,
    ],
    handlers: [...nodeHandlers(ctx), ...lb.handlers],
    probes: probesFor(ctx, n),
    ...(ctx.m.prune ? {} : { keepRemoved: true }),
    driftPolicy: ctx.spec.value.drift === 'report' ? DriftPolicy.DRIFT_POLICY_REPORT : DriftPolicy.DRIFT_POLICY_ENFORCE,
  };
}

// Every node's draft for the cluster the spec describes, by role, and the certificates they
// need. Pure and deterministic: the same inputs give the same drafts and requests.
export function renderCluster(inv: Inventory, spec: ClusterSpec): Rendered {
  const m = buildModel(inv, spec);
  const problems: string[] = [];
  const ctx = clusterContext(m, spec, problems);
  const drafts = inv.nodes.map((n) => renderNode(ctx, n));
  if (problems.length) {
    throw new SpecError([...new Set(problems)].map((message) => ({ file: spec.file, ...spec.locate(['templates']), field: 'templates', message })));
  }
  return { drafts, certificates: clusterRequests(m, spec.value.api.extraSANs), serviceAccountKey: m.controlPlane.length > 0 };
}
