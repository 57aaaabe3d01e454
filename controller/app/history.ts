import type { Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import { withContext, type AppContext } from './context.js';
import { currentOperator, type HistoryAction, type HistoryEntry, type Operator, type PlanRecord, type Store } from '../store/store.js';

// The controller's history (who did what, when, with which result, generation before and
// after) and the plans by generation that apply and rollout both record.

export function listHistory(o: { state: string; node?: string; limit?: number }, ctx?: AppContext): Promise<HistoryEntry[]> {
  return withContext(o.state, ctx, (c) => c.store.history({ node: o.node, limit: o.limit }));
}

// Saves every node's plan by generation; a node whose plan is new gets a 'plan' line in the history.
export async function savePlanGenerations(store: Store, plans: readonly Plan[], encode: (p: Plan) => Uint8Array, operator: Operator = currentOperator(), now = Date.now()): Promise<Map<string, PlanRecord>> {
  const before = new Map(await Promise.all(plans.map(async (p) => [p.node, (await store.latestPlan(p.node))?.generation ?? 0] as const)));
  const saved = await store.savePlans(plans.map((p) => ({ node: p.node, revision: p.revision, plan: encode(p) })), now);
  for (const r of saved) {
    const was = before.get(r.node) ?? 0;
    if (r.generation !== was) await record(store, { action: 'plan', subject: r.revision, node: r.node, result: 'recorded', generationBefore: was, generationAfter: r.generation, detail: `revision ${r.revision}` }, operator, now);
  }
  return new Map(saved.map((r) => [r.node, r]));
}

// The generation a node applied last, as this controller recorded it (0 when none).
export async function lastApplied(store: Store, node: string): Promise<number> {
  const applied = (await store.history({ node, limit: 50 })).find((h) => h.action !== 'plan' && h.generationAfter > 0);
  return applied?.generationAfter ?? 0;
}

export function record(store: Store, e: { action: HistoryAction; subject: string; node: string; result: string; generationBefore: number; generationAfter: number; detail: string }, operator: Operator = currentOperator(), now = Date.now()): Promise<HistoryEntry> {
  return store.record({ ...e, atMs: now, operator });
}
