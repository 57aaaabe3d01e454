import type { RolloutStatus } from '../rollout/control.js';
import type { WavePlan } from '../rollout/waves.js';
import type { HistoryEntry, JournalEntry, OpenWait, RolloutRecord } from '../store/store.js';
import { controllerErrors } from '../errors.js';
import { EXIT } from './io.js';
import { table } from './output.js';

// How rollouts, their steps, waits and the history read on a terminal or in a pipe: one
// plain line per event, so `muster rollout | tee` keeps the whole story.

const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);
const when = (ms: number) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z' : '-');
const indent = (text: string) => text.split('\n').join('\n      ');

export function waveLines(plan: WavePlan): string[] {
  const lines = plan.waves.map((w, i) => `[rollout] wave ${i}: ${w.label}: ${w.nodes.join(', ')}${w.pauseAfter ? ' (then pause: canary)' : ''}`);
  for (const s of plan.skipped) lines.push(`[rollout] skip ${s.node}: ${s.reason}`);
  return lines;
}

export function entryLine(e: JournalEntry): string {
  const at = clock(e.atMs);
  if (!e.node) return `[rollout] ${at} wave ${e.wave}: ${e.step}: ${e.detail}`;
  const where = e.wave < 0 ? '' : ` wave ${e.wave}`;
  return `[rollout] ${at}${where} ${e.node}: ${e.step}${e.detail ? `: ${indent(e.detail)}` : ''}`;
}

export function waitLine(w: OpenWait, now = Date.now()): string {
  return `[wait] ${clock(now)} ${w.node}: waiting on ${w.probe}: ${w.lastError} (since ${clock(w.sinceMs)}, ${Math.round((now - w.sinceMs) / 1000)} s)`;
}

export function endLines(r: RolloutRecord): string[] {
  const lines = [`[rollout] ${r.id} ${r.state}${r.reason ? `: ${r.reason}` : ''}`];
  if (r.state === 'paused') lines.push(`[rollout] "muster rollout resume ${r.id}" goes on; "muster rollout undo ${r.id}" rolls the changed nodes back`);
  return lines;
}

// 0 done, 3 paused (resume goes on), 1 failed or aborted.
export function exitFor(r: RolloutRecord): number {
  if (r.state === 'done') return EXIT.OK;
  if (r.state === 'paused') return controllerErrors.ROLLOUT_PAUSED.exit;
  return controllerErrors.ROLLOUT_FAILED.exit;
}

export function statusText(s: RolloutStatus, now = Date.now()): string {
  const r = s.rollout;
  const out = [
    `rollout ${r.id}${r.undoOf ? ` (undo of ${r.undoOf})` : ''}: ${r.state}${r.reason ? `: ${r.reason}` : ''}`,
    `started by ${r.operator.user}@${r.operator.host} at ${when(r.createdAtMs)}; wave ${s.currentWave < 0 ? 'none left' : `${s.currentWave} of ${s.waves.length}`}`,
    '',
    table(['NODE', 'WAVE', 'STEP', 'SINCE', 'DETAIL'], s.nodes.map((n) => [n.node, n.wave < 0 ? '-' : String(n.wave), n.step, when(n.sinceMs), n.detail.split('\n')[0]])),
  ];
  if (s.waits.length) {
    out.push('', 'open waits:', table(['NODE', 'PROBE', 'SINCE', 'FOR', 'LAST ERROR'], s.waits.map((w) => [w.node, w.probe, when(w.sinceMs), `${Math.round((now - w.sinceMs) / 1000)}s`, w.lastError])));
  }
  if (s.failed.length) out.push('', 'failed:', ...s.failed.map((f) => `  ${f.node}: ${f.error}`));
  return out.join('\n');
}

export function statusJson(s: RolloutStatus) {
  const { options: _options, ...rollout } = s.rollout;
  return { rollout, currentWave: s.currentWave, waves: s.waves.map(({ rolloutId: _r, ...w }) => w), nodes: s.nodes, waits: s.waits, failed: s.failed };
}

export function historyTable(entries: HistoryEntry[]): string {
  return table(
    ['WHEN', 'OPERATOR', 'ACTION', 'SUBJECT', 'NODE', 'RESULT', 'GENERATION', 'DETAIL'],
    entries.map((h) => [
      when(h.atMs),
      `${h.operator.user}@${h.operator.host}`,
      h.action,
      h.subject,
      h.node || '-',
      h.result,
      h.generationBefore || h.generationAfter ? `${h.generationBefore} → ${h.generationAfter}` : '-',
      h.detail.split('\n')[0],
    ]),
  );
}
