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
export function revisionOf(plan: Plan): string {
  const bytes = Plan.encode({ ...plan, revision: '' }).finish();
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}
