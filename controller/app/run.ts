import { ApplyMode, type TaskResult } from '../../proto/gen/muster/agent/v1/agent.js';
import type { ApplyOutcome } from '../fleet/client.js';
import { Fleet } from '../fleet/fleet.js';
import { readFleetCredentials } from '../pki/fleet.js';
import { buildPlanSet, type InputFiles, type PlanSet } from './plan-set.js';

export interface RunOptions extends InputFiles {
  state: string;
  concurrency: number;
  timeoutMs: number;
  // Progress, as it happens: the plans about to be sent, every task result, every node's outcome.
  onStart?: (planSet: PlanSet) => void;
  onTask?: (node: string, result: TaskResult) => void;
  onNode?: (outcome: ApplyOutcome) => void;
}

export interface RunReport {
  planSet: PlanSet;
  outcomes: ApplyOutcome[];
  durationMs: number;
}

async function run(o: RunOptions, mode: ApplyMode): Promise<RunReport> {
  // Check mode changes nothing anywhere: not on the agents, not in the state folder.
  const planSet = await buildPlanSet({ ...o, persist: mode === ApplyMode.APPLY_MODE_APPLY });
  const fleet = new Fleet(planSet.inv.nodes, await readFleetCredentials(o.state));
  o.onStart?.(planSet);
  const started = performance.now();
  try {
    const outcomes = await fleet.run(planSet.plans, { mode, concurrency: o.concurrency, timeoutMs: o.timeoutMs, onTask: o.onTask, onNode: o.onNode });
    return { planSet, outcomes, durationMs: performance.now() - started };
  } finally {
    fleet.close();
  }
}

// Check mode on every agent: what would change, per node and task.
export function plan(o: RunOptions): Promise<RunReport> {
  return run(o, ApplyMode.APPLY_MODE_CHECK);
}

// Converges every node, with a concurrency limit; certificates issued are kept in the state folder.
export function apply(o: RunOptions): Promise<RunReport> {
  return run(o, ApplyMode.APPLY_MODE_APPLY);
}
