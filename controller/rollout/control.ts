import { ControllerError } from '../errors.js';
import { currentOperator, type HistoryAction, type JournalEntry, type JournalStep, type OpenWait, type Operator, type RolloutRecord, type Store, type WaveRecord } from '../store/store.js';

// What other muster processes do to a rollout through the store alone: pause, abort, and read
// its status (`muster rollout pause|abort|status`); the runner sees the state before each dispatch.

export interface NodeStatusLine {
  node: string;
  wave: number;
  step: JournalStep | 'pending';
  sinceMs: number;
  detail: string;
}

export interface RolloutStatus {
  rollout: RolloutRecord;
  waves: WaveRecord[];
  // The wave in progress (the first not finished); -1 when all are.
  currentWave: number;
  nodes: NodeStatusLine[];
  waits: OpenWait[];
  failed: { node: string; error: string }[];
}

// Pause, from any process: the runner sees it before its next dispatch and stops there.
export async function pauseRollout(store: Store, id: string, reason: string, operator: Operator = currentOperator(), now = Date.now()): Promise<RolloutRecord> {
  return changeState(store, id, 'paused', ['running'], `paused by ${operator.user}@${operator.host}${reason ? `: ${reason}` : ''}`, 'pause', operator, now);
}

// Abort, from any process: nothing more is dispatched and the rollout cannot be resumed.
export async function abortRollout(store: Store, id: string, reason: string, operator: Operator = currentOperator(), now = Date.now()): Promise<RolloutRecord> {
  return changeState(store, id, 'aborted', ['running', 'paused'], `aborted by ${operator.user}@${operator.host}${reason ? `: ${reason}` : ''}`, 'abort', operator, now);
}

async function changeState(store: Store, id: string, state: RolloutRecord['state'], from: RolloutRecord['state'][], reason: string, action: HistoryAction, operator: Operator, now: number): Promise<RolloutRecord> {
  for (;;) {
    const r = await store.rollout(id);
    if (!r) throw new ControllerError('ROLLOUT_NOT_FOUND', `no rollout ${id}`);
    if (!from.includes(r.state)) throw new ControllerError('ROLLOUT_REFUSED', `rollout ${id} is ${r.state}: it cannot be ${state}`);
    try {
      const next = await store.updateRollout(id, r.revision, { state, reason }, now);
      await store.record({ atMs: now, operator, action, subject: id, node: '', result: state, generationBefore: 0, generationAfter: 0, detail: reason });
      return next;
    } catch (err) {
      if ((err as ControllerError).code !== 'STORE_CONFLICT') throw err;
    }
  }
}

// What `muster rollout status` shows: the wave in progress, each node's last step and since
// when, and every wait still open with its probe and last error.
export async function rolloutStatus(store: Store, id: string): Promise<RolloutStatus> {
  const rollout = await store.rollout(id);
  if (!rollout) throw new ControllerError('ROLLOUT_NOT_FOUND', `no rollout ${id}`);
  const waves = await store.waves(id);
  const last = new Map<string, JournalEntry>();
  const failed: { node: string; error: string }[] = [];
  for (const e of await store.entries(id)) {
    if (!e.node) continue;
    last.set(e.node, e);
    if (e.step === 'failed') failed.push({ node: e.node, error: e.detail });
  }
  const nodes: NodeStatusLine[] = [];
  for (const e of last.values()) if (e.wave < 0) nodes.push({ node: e.node, wave: -1, step: e.step, sinceMs: e.atMs, detail: e.detail });
  for (const w of waves) {
    for (const n of w.nodes) {
      const e = last.get(n);
      nodes.push(e ? { node: n, wave: w.index, step: e.step, sinceMs: e.atMs, detail: e.detail } : { node: n, wave: w.index, step: 'pending', sinceMs: 0, detail: '' });
    }
  }
  const done = (n: string) => ['healthy', 'failed', 'skipped'].includes(last.get(n)?.step ?? '');
  const currentWave = waves.find((w) => !w.nodes.every(done))?.index ?? -1;
  return { rollout, waves, currentWave, nodes, waits: await store.waits(id), failed };
}
