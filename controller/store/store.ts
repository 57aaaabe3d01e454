import os from 'node:os';

// The controller's memory: plans by generation, rollouts with their waves, the journal of every
// node step, and the history of every operator action. Small on purpose, so an etcd v3 backing
// can implement it with key prefixes (plans/<node>/<generation>, rollouts/<id>, journal/<id>/<seq>,
// history/<seq>) and transactions that compare a record's revision before writing it.

export type RolloutState = 'running' | 'paused' | 'aborted' | 'done' | 'failed';

// Every step a node goes through in a rollout, written before the step takes effect
// (dispatched before the Apply is sent, gating before the wait starts).
// 'hook' records a hook's command and output once it ran; 'paused' (node '') a canary pause;
// 'snapshot' the etcd snapshot taken on that member before the first etcd wave.
export const JOURNAL_STEPS = ['dispatched', 'applied', 'gating', 'healthy', 'failed', 'skipped', 'hook', 'paused', 'snapshot'] as const;
export type JournalStep = (typeof JOURNAL_STEPS)[number];

export interface PlanRecord {
  node: string;
  // Only grows per node; a new content revision gets the next one.
  generation: number;
  revision: string;
  // The protobuf bytes of the Plan, so undo can send them again. Holds keys.
  plan: Uint8Array;
  createdAtMs: number;
}

export interface Operator {
  user: string;
  host: string;
}

export interface RolloutRecord {
  id: string;
  specHash: string;
  // The options the rollout was started with (batch, canary, budget, soak...), as JSON.
  options: Record<string, unknown>;
  state: RolloutState;
  // Why the rollout is paused, failed or aborted; empty when running or done.
  reason: string;
  // The rollout this one undoes, for undo rollouts.
  undoOf?: string;
  operator: Operator;
  createdAtMs: number;
  updatedAtMs: number;
  // Changes on every update; updateRollout compares it (an etcd mod revision).
  revision: number;
}

export interface WaveRecord {
  rolloutId: string;
  index: number;
  role: string;
  label: string;
  nodes: string[];
  // Nodes of the wave by generation to send (node → generation).
  generations: Record<string, number>;
  // Pause after this wave until resumed (canary).
  pauseAfter: boolean;
}

export interface JournalEntry {
  rolloutId: string;
  // Assigned by the store, increasing within a rollout.
  seq: number;
  wave: number;
  node: string;
  step: JournalStep;
  generation: number;
  detail: string;
  atMs: number;
}

// A gate still waiting: which node, which probe, its last error, since when (rollout status).
export interface OpenWait {
  rolloutId: string;
  node: string;
  probe: string;
  lastError: string;
  sinceMs: number;
  updatedAtMs: number;
}

export type HistoryAction = 'plan' | 'apply' | 'rollout' | 'undo' | 'pause' | 'resume' | 'abort' | 'certs';

export interface HistoryEntry {
  seq: number;
  atMs: number;
  operator: Operator;
  action: HistoryAction;
  // What was acted on: a node, a rollout id, a certificate path.
  subject: string;
  node: string;
  result: string;
  generationBefore: number;
  generationAfter: number;
  detail: string;
}

export interface Store {
  // Records nodes' plans in one transaction: the same revision as a node's latest plan keeps
  // that generation, a new one gets the next generation. Returns the records as stored.
  savePlans(plans: { node: string; revision: string; plan: Uint8Array }[], atMs: number): Promise<PlanRecord[]>;
  plan(node: string, generation: number): Promise<PlanRecord | undefined>;
  latestPlan(node: string): Promise<PlanRecord | undefined>;
  // Generations of a node's plans, newest first (without the bytes).
  generations(node: string): Promise<Omit<PlanRecord, 'plan'>[]>;

  createRollout(r: Omit<RolloutRecord, 'revision' | 'updatedAtMs'>, waves: Omit<WaveRecord, 'rolloutId'>[]): Promise<RolloutRecord>;
  rollout(id: string): Promise<RolloutRecord | undefined>;
  // Only the state: what a runner reads before every dispatch (another process may pause).
  rolloutState(id: string): Promise<Pick<RolloutRecord, 'state' | 'reason' | 'revision' | 'updatedAtMs'> | undefined>;
  // Newest first.
  rollouts(limit?: number): Promise<RolloutRecord[]>;
  waves(rolloutId: string): Promise<WaveRecord[]>;
  // Compare-and-swap: fails with STORE_CONFLICT when the record's revision is not `expected`.
  updateRollout(id: string, expected: number, change: Partial<Pick<RolloutRecord, 'state' | 'reason'>>, atMs: number): Promise<RolloutRecord>;

  // Appends a journal entry; durable when the promise resolves.
  journal(entry: Omit<JournalEntry, 'seq'>): Promise<JournalEntry>;
  entries(rolloutId: string): Promise<JournalEntry[]>;

  // The open waits of a rollout, kept where another process (rollout status) can read them.
  setWait(w: OpenWait): Promise<void>;
  clearWait(rolloutId: string, node: string): Promise<void>;
  waits(rolloutId: string): Promise<OpenWait[]>;

  record(entry: Omit<HistoryEntry, 'seq'>): Promise<HistoryEntry>;
  // Newest first; node filters to what touched that node.
  history(filter?: { node?: string; limit?: number }): Promise<HistoryEntry[]>;

  // A named lock (one runner per rollout): takes it and returns undefined, or returns the
  // holder when another has it. isStale says whether a holder may be replaced (a dead pid on
  // this host); the etcd backing will use a lease instead.
  acquireLock(name: string, holder: LockHolder, isStale: (h: LockHolder) => boolean): Promise<LockHolder | undefined>;
  // Releases the lock if `holder` still holds it.
  releaseLock(name: string, holder: LockHolder): Promise<void>;

  close(): void;
}

export interface LockHolder {
  pid: number;
  host: string;
  user: string;
  sinceMs: number;
  // What the holder is doing, for the refusal message ("rollout 20261201-...").
  purpose: string;
}

// Who is at the keyboard, for the history.
export function currentOperator(): Operator {
  return { user: os.userInfo().username, host: os.hostname() };
}
