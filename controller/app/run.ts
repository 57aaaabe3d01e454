import { ApplyMode, type Plan, type TaskResult } from '../../proto/gen/muster/agent/v1/agent.js';
import type { ApplyOutcome } from '../fleet/client.js';
import { Fleet } from '../fleet/fleet.js';
import { fleetCredentials } from './fleet-credentials.js';
import { loadInventory, type Inventory } from '../inputs/inventory.js';
import { selectNodes } from './limit.js';
import { buildPlanSet, type InputFiles, type PlanSet } from './plan-set.js';

export interface RunOptions extends InputFiles {
  state: string;
  concurrency: number;
  timeoutMs: number;
  // --limit: only these nodes are contacted (controller/app/limit.ts has the grammar).
  limit?: string;
  // Progress, as it happens: the plans about to be sent, every task result, every node's outcome.
  onStart?: (planSet: PlanSet, sent: Plan[]) => void;
  onTask?: (node: string, result: TaskResult) => void;
  onNode?: (outcome: ApplyOutcome) => void;
}

export interface RunReport {
  planSet: PlanSet;
  // The plans sent: every node's, or those --limit selected.
  sent: Plan[];
  outcomes: ApplyOutcome[];
  counts: OutcomeCounts;
  durationMs: number;
}

export type NodeOutcome = 'ok' | 'changed' | 'would-change' | 'failed' | 'unreachable';

// One word per node: a node is counted once, under the worst thing that happened to it.
export function outcomeOf(o: ApplyOutcome): NodeOutcome {
  if (o.error) return 'unreachable';
  const s = o.summary!;
  if (s.failed) return 'failed';
  if (s.changed) return 'changed';
  if (s.wouldChange) return 'would-change';
  return 'ok';
}

export type OutcomeCounts = Record<NodeOutcome, number> & { total: number };

// Counts that add up: every node in exactly one of them, their sum the total.
export function countOutcomes(outcomes: ApplyOutcome[]): OutcomeCounts {
  const counts: OutcomeCounts = { total: outcomes.length, ok: 0, changed: 0, 'would-change': 0, failed: 0, unreachable: 0 };
  for (const o of outcomes) counts[outcomeOf(o)]++;
  return counts;
}

export interface SendOptions {
  state: string;
  inv: Inventory;
  plans: Plan[];
  mode: 'check' | 'apply';
  concurrency: number;
  timeoutMs: number;
  onTask?: (node: string, result: TaskResult) => void;
  onNode?: (outcome: ApplyOutcome) => void;
}

// Sends plans already built to their agents (one wave of a rollout, or a whole plan/apply).
export async function sendPlans(o: SendOptions): Promise<{ outcomes: ApplyOutcome[]; counts: OutcomeCounts; durationMs: number }> {
  const fleet = new Fleet(o.inv.nodes, await fleetCredentials(o.state));
  const started = performance.now();
  try {
    const mode = o.mode === 'apply' ? ApplyMode.APPLY_MODE_APPLY : ApplyMode.APPLY_MODE_CHECK;
    const outcomes = await fleet.run(o.plans, { mode, concurrency: o.concurrency, timeoutMs: o.timeoutMs, onTask: o.onTask, onNode: o.onNode });
    return { outcomes, counts: countOutcomes(outcomes), durationMs: performance.now() - started };
  } finally {
    fleet.close();
  }
}

async function run(o: RunOptions, mode: 'check' | 'apply'): Promise<RunReport> {
  // A bad --limit fails before anything is rendered or issued.
  if (o.limit !== undefined) selectNodes((await loadInventory(o.inventory)).nodes, o.limit);
  // Check mode changes nothing anywhere: not on the agents, not in the state folder.
  const planSet = await buildPlanSet({ ...o, persist: mode === 'apply' });
  const chosen = new Set(selectNodes(planSet.inv.nodes, o.limit).map((n) => n.name));
  const sent = planSet.plans.filter((p) => chosen.has(p.node));
  o.onStart?.(planSet, sent);
  const result = await sendPlans({ ...o, inv: planSet.inv, plans: sent, mode });
  return { planSet, sent, ...result };
}

// Check mode on every agent: what would change, per node and task.
export function plan(o: RunOptions): Promise<RunReport> {
  return run(o, 'check');
}

// Converges every node, with a concurrency limit; certificates issued are kept in the state folder.
export function apply(o: RunOptions): Promise<RunReport> {
  return run(o, 'apply');
}
