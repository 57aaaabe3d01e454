import { createHash } from 'node:crypto';
import { Plan, type DriftPolicy, type ProbeSpec } from '../../proto/gen/muster/agent/v1/agent.js';
import type { Handler, Task } from '../../proto/gen/muster/agent/v1/tasks.js';
import type { Material, MaterialNeeds } from '../pki/cluster.js';

// A task whose bytes need certificates or keys is a function of the PKI step's material.
export type DraftTask = Task | ((m: Material) => Task);

// One node's plan before the PKI step: everything but the key material.
export interface NodeDraft {
  node: string;
  tasks: DraftTask[];
  handlers: Handler[];
  probes: ProbeSpec[];
  driftPolicy: DriftPolicy;
  // prune: false in an input: what leaves the plan stays on the host.
  keepRemoved?: boolean;
}

// What rendering produces: a draft per node and the certificates they need (the requests).
export interface Rendered extends MaterialNeeds {
  drafts: NodeDraft[];
}

// The revision is a hash of the plan's content: same input, same bytes, same revision.
// Plan.encode writes node, revision, tasks, then the rest, each field alone: the same bytes
// arrive in three parts, and a task many plans share (most of a worker's) is encoded once
// into `encoded`, which lives for one build of plans whose tasks are no longer changed.
export function revisionOf(plan: Plan, encoded = new Map<Task, Uint8Array>()): string {
  const h = createHash('sha256').update(Plan.encode({ ...NO_FIELDS, node: plan.node }).finish());
  for (const t of plan.tasks) {
    let bytes = encoded.get(t);
    if (!bytes) {
      bytes = Plan.encode({ ...NO_FIELDS, tasks: [t] }).finish();
      encoded.set(t, bytes);
    }
    h.update(bytes);
  }
  h.update(Plan.encode({ ...plan, node: '', revision: '', tasks: [] }).finish());
  return h.digest('hex').slice(0, 16);
}

const NO_FIELDS: Plan = Plan.fromPartial({});
