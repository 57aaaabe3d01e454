import { ApplyMode, Plan, type TaskResult } from '../../proto/gen/muster/agent/v1/agent.js';
import type { ApplyOutcome } from '../fleet/client.js';
import { loadInventory, type Inventory, type InventoryNode } from '../inputs/inventory.js';
import { outcomeOf as dispatchOutcome } from '../rollout/adapters.js';
import { takeRolloutLock } from '../rollout/lock.js';
import type { Operator, Store } from '../store/store.js';
import { withContext, type AppContext } from './context.js';
import { lastApplied, record, savePlanGenerations } from './history.js';
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
  // Who asked, for the history (default: the user at this terminal).
  operator?: Operator;
}

export interface RunReport {
  planSet: PlanSet;
  // The plans sent: every node's, or those --limit selected.
  sent: Plan[];
  outcomes: ApplyOutcome[];
  counts: OutcomeCounts;
  durationMs: number;
}

// What a run tells its caller once it is done, without the plans (they hold keys): what the
// CLI prints, the same whether the run was in this process or a job of muster serve.
export interface RunSummary {
  nodes: InventoryNode[];
  // How many nodes have a plan, and how many were sent one (--limit).
  planned: number;
  sent: number;
  persisted: boolean;
  issued: string[];
  outcomes: ApplyOutcome[];
  counts: OutcomeCounts;
  durationMs: number;
}

export function summaryOf(r: RunReport): RunSummary {
  return { nodes: r.planSet.inv.nodes, planned: r.planSet.plans.length, sent: r.sent.length, persisted: r.planSet.persisted, issued: r.planSet.issued, outcomes: r.outcomes, counts: r.counts, durationMs: r.durationMs };
}

export type NodeOutcome = 'ok' | 'changed' | 'would-change' | 'failed' | 'unreachable';

// One word per node: a node is counted once, under the worst thing that happened to it.
export function outcomeOf(o: ApplyOutcome): NodeOutcome {
  // An agent that answered and refused (STALE_GENERATION, PERMISSION_DENIED) was reached.
  if (o.error) return dispatchOutcome(o).status === 'unreachable' ? 'unreachable' : 'failed';
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
  inv: Inventory;
  plans: Plan[];
  mode: 'check' | 'apply';
  concurrency: number;
  timeoutMs: number;
  onTask?: (node: string, result: TaskResult) => void;
  onNode?: (outcome: ApplyOutcome) => void;
  // Each node's plan generation (from the store), so the agent refuses an older one.
  generations?: ReadonlyMap<string, number>;
}

// Sends plans already built to their agents (one wave of a rollout, or a whole plan/apply).
export async function sendPlans(o: SendOptions, ctx: AppContext): Promise<{ outcomes: ApplyOutcome[]; counts: OutcomeCounts; durationMs: number }> {
  const fleet = await ctx.fleet(o.inv);
  const started = performance.now();
  const mode = o.mode === 'apply' ? ApplyMode.APPLY_MODE_APPLY : ApplyMode.APPLY_MODE_CHECK;
  const outcomes = await fleet.run(o.plans, { mode, concurrency: o.concurrency, timeoutMs: o.timeoutMs, onTask: o.onTask, onNode: o.onNode, generations: o.generations });
  return { outcomes, counts: countOutcomes(outcomes), durationMs: performance.now() - started };
}

async function run(o: RunOptions, mode: 'check' | 'apply', ctx: AppContext): Promise<RunReport> {
  // A bad --limit fails before anything is rendered or issued.
  if (o.limit !== undefined) selectNodes((await loadInventory(o.inventory)).nodes, o.limit);
  // Check mode changes nothing anywhere: not on the agents, not in the state folder.
  const planSet = await buildPlanSet({ ...o, persist: mode === 'apply' });
  const chosen = new Set(selectNodes(planSet.inv.nodes, o.limit).map((n) => n.name));
  const sent = planSet.plans.filter((p) => chosen.has(p.node));
  if (mode === 'check') {
    o.onStart?.(planSet, sent);
    return { planSet, sent, ...(await sendPlans({ ...o, inv: planSet.inv, plans: sent, mode }, ctx)) };
  }
  // apply records its plans by generation and sends them with it, as a rollout does, so the
  // agents refuse an older plan later and a rollout or undo after it has a consistent line.
  const { store } = ctx;
  // apply changes nodes too: never while a rollout is being driven from this state folder.
  const release = await takeRolloutLock(store, 'muster apply');
  try {
    const saved = await savePlanGenerations(store, sent, (p) => Plan.encode(p).finish(), o.operator);
    const generations = new Map([...saved].map(([n, r]) => [n, r.generation]));
    const before = new Map(await Promise.all(sent.map(async (p) => [p.node, await lastApplied(store, p.node)] as const)));
    o.onStart?.(planSet, sent);
    const result = await sendPlans({ ...o, inv: planSet.inv, plans: sent, mode, generations }, ctx);
    await recordApplies(store, result.outcomes, generations, before, o.operator);
    return { planSet, sent, ...result };
  } finally {
    await release();
  }
}

async function recordApplies(store: Store, outcomes: ApplyOutcome[], generations: Map<string, number>, before: Map<string, number>, operator?: Operator): Promise<void> {
  for (const o of outcomes) {
    const was = before.get(o.node) ?? 0;
    const out = dispatchOutcome(o);
    const ok = out.status === 'converged';
    const result = ok ? (out.changed ? 'changed' : 'ok') : out.status;
    await record(store, { action: 'apply', subject: o.node, node: o.node, result, generationBefore: was, generationAfter: ok ? generations.get(o.node)! : was, detail: out.error ?? `${out.changed} changed, revision ${o.summary?.revision ?? ''}` }, operator);
  }
}

// Check mode on every agent: what would change, per node and task.
export function plan(o: RunOptions, ctx?: AppContext): Promise<RunReport> {
  return withContext(o.state, ctx, (c) => run(o, 'check', c));
}

// Converges every node, with a concurrency limit; certificates issued are kept in the state folder.
export function apply(o: RunOptions, ctx?: AppContext): Promise<RunReport> {
  return withContext(o.state, ctx, (c) => run(o, 'apply', c));
}
