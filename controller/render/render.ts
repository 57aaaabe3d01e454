import type { Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import type { ClusterSpec } from '../inputs/cluster.js';
import type { Inventory } from '../inputs/inventory.js';
import type { TaskFile } from '../inputs/task-file.js';
import type { Task } from '../../proto/gen/muster/agent/v1/tasks.js';
import { annotateRestarts } from './restart-for.js';
import type { Material, NamedRequest } from '../pki/cluster.js';
import { revisionOf, type Rendered } from './draft.js';

export interface LoadedInputs {
  inv: Inventory;
  cluster?: ClusterSpec;
  tasks?: TaskFile;
}

// The one render path, pure: the cluster spec's drafts, then the task file's after them on
// each node, and every certificate they need. No PKI is touched here. Each renderer is loaded
// only when its input is given (the cluster's brings kubernetes-models).
export async function renderInputs(inputs: LoadedInputs): Promise<Rendered> {
  if (!inputs.cluster && !inputs.tasks) throw new Error('nothing to render: no cluster spec and no task file');
  const parts: Rendered[] = [];
  if (inputs.cluster) parts.push((await import('./cluster/plan.js')).renderCluster(inputs.inv, inputs.cluster));
  if (inputs.tasks) parts.push((await import('./task-file.js')).renderTaskFile(inputs.inv, inputs.tasks));
  const byNode = parts.map((p) => new Map(p.drafts.map((d) => [d.node, d])));
  const certificates = new Map<string, NamedRequest>();
  for (const r of parts.flatMap((p) => p.certificates)) if (!certificates.has(r.name)) certificates.set(r.name, r);
  return {
    certificates: [...certificates.values()],
    serviceAccountKey: parts.some((p) => p.serviceAccountKey),
    drafts: inputs.inv.nodes.map((n) => {
      const mine = byNode.map((drafts) => drafts.get(n.name)).filter((d) => !!d);
      return {
        node: n.name,
        tasks: mine.flatMap((d) => d.tasks),
        handlers: mine.flatMap((d) => d.handlers),
        probes: mine.flatMap((d) => d.probes),
        // The cluster spec's policy wins over a task file's.
        driftPolicy: mine[0].driftPolicy,
        // Kept when any input says prune: false; removing is the one that cannot be undone.
        ...(mine.some((d) => d.keepRemoved) ? { keepRemoved: true } : {}),
      };
    }),
  };
}

// After the PKI step: every draft filled with its material, and its revision.
export function assemblePlans(rendered: Rendered, material: Material): Plan[] {
  const encoded = new Map<Task, Uint8Array>();
  return rendered.drafts.map((d) => {
    const plan: Plan = {
      node: d.node,
      revision: '',
      tasks: annotateRestarts(d.tasks.map((t) => (typeof t === 'function' ? t(material) : t))),
      handlers: d.handlers,
      probes: d.probes,
      driftPolicy: d.driftPolicy,
      ...(d.keepRemoved ? { keepRemoved: true } : {}),
    };
    plan.revision = revisionOf(plan, encoded);
    return plan;
  });
}
