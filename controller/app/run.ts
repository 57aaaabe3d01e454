import { ApplyMode, Plan, type TaskResult } from '../../proto/gen/muster/agent/v1/agent.js';
import type { ApplyOutcome } from '../fleet/client.js';
import { Fleet } from '../fleet/fleet.js';
import { readFleetCredentials } from '../pki/fleet.js';
import { openStore } from '../store/sqlite.js';
import type { Store } from '../store/store.js';
import { outcomeOf } from '../rollout/adapters.js';
import { lastApplied, record, savePlanGenerations } from './history.js';
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
  const applying = mode === ApplyMode.APPLY_MODE_APPLY;
  const planSet = await buildPlanSet({ ...o, persist: applying });
  const fleet = new Fleet(planSet.inv.nodes, await readFleetCredentials(o.state));
  // apply records its plans by generation and sends them with it, as a rollout does, so the
  // agents refuse an older plan later and a rollout or undo after it has a consistent line.
  const store = applying ? openStore(o.state) : undefined;
  try {
    const generations = store && new Map([...(await savePlanGenerations(store, planSet.plans, (p) => Plan.encode(p).finish()))].map(([n, r]) => [n, r.generation]));
    const before = store && new Map(await Promise.all(planSet.plans.map(async (p) => [p.node, await lastApplied(store, p.node)] as const)));
    o.onStart?.(planSet);
    const started = performance.now();
    const outcomes = await fleet.run(planSet.plans, { mode, concurrency: o.concurrency, timeoutMs: o.timeoutMs, onTask: o.onTask, onNode: o.onNode, generations });
    if (store) await recordApplies(store, outcomes, generations!, before!);
    return { planSet, outcomes, durationMs: performance.now() - started };
  } finally {
    fleet.close();
    store?.close();
  }
}

async function recordApplies(store: Store, outcomes: ApplyOutcome[], generations: Map<string, number>, before: Map<string, number>): Promise<void> {
  for (const o of outcomes) {
    const was = before.get(o.node) ?? 0;
    const out = outcomeOf(o);
    const ok = out.status === 'converged';
    const result = ok ? (out.changed ? 'changed' : 'ok') : out.status;
    await record(store, { action: 'apply', subject: o.node, node: o.node, result, generationBefore: was, generationAfter: ok ? generations.get(o.node)! : was, detail: out.error ?? `${out.changed} changed, revision ${o.summary?.revision ?? ''}` });
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
