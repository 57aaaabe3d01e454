import { createTwoFilesPatch } from 'diff';
import { TaskStatus, type Diff, type TaskResult } from '../../proto/gen/muster/agent/v1/agent.js';
import type { ApplyOutcome } from '../fleet/client.js';
import type { GlobalOptions, Io } from './io.js';

export interface RunFlags extends GlobalOptions {
  tasks?: string;
  cluster?: string;
  concurrency: number;
  timeout: number;
  diff: boolean;
  json?: boolean;
}

export function statusWord(s: TaskStatus): string {
  return TaskStatus[s]?.replace('TASK_STATUS_', '').toLowerCase().replace('_', '-') ?? 'unknown';
}

// A diff as an operator reads it: a unified patch for text, "before → after" for one-liners.
export function renderDiff(d: Diff, indent = '    '): string {
  const oneLine = !d.before.includes('\n') && !d.after.includes('\n');
  if (oneLine && (d.before.length + d.after.length) < 120) return `${indent}${d.header}: ${d.before} → ${d.after}`;
  const before = d.before === '(absent)' ? '' : d.before;
  const patch = createTwoFilesPatch(d.header, d.header, withNewline(before), withNewline(d.after), d.before === '(absent)' ? '(absent)' : 'on node', 'planned', { context: 3 });
  return patch
    .split('\n')
    .filter((l) => l && !l.startsWith('====') && !l.startsWith('\\ No newline'))
    .map((l) => indent + l)
    .join('\n');
}

function withNewline(s: string): string {
  return s === '' || s.endsWith('\n') ? s : s + '\n';
}

// What a removal (a task of the last applied plan that left this one) did or would do.
const REMOVAL_VERBS: Record<string, Record<string, string>> = {
  default: { ok: 'already removed', changed: 'removed', 'would-change': 'would remove', failed: 'failed to remove', skipped: 'removal skipped' },
  service: { ok: 'already stopped', changed: 'stopped and disabled', 'would-change': 'would stop and disable', failed: 'failed to stop', skipped: 'stop skipped' },
};

function removalWords(r: TaskResult): string {
  // One name per thing: "haproxy.service (now)" and "haproxy.service (at boot)" are one unit.
  const what = [...new Set(r.diffs.map((d) => d.header.replace(/ \([^)]*\)$/, '')))].join(', ');
  const verb = (REMOVAL_VERBS[r.kind] ?? REMOVAL_VERBS.default)[statusWord(r.status)] ?? statusWord(r.status);
  return what ? `${verb} ${what}` : verb;
}

export function renderTask(r: TaskResult, showDiffs: boolean): string {
  const mark = r.removal ? '-' : ({ ok: '=', changed: '~', 'would-change': '~', failed: '!', skipped: '-' }[statusWord(r.status)] ?? '?');
  const word = r.removal ? removalWords(r) : statusWord(r.status);
  const lines = [`  ${mark} ${r.id} (${r.kind}) ${word}${r.errorCode ? `: ${r.errorCode}: ${r.errorMessage}` : ''}`];
  for (const w of r.warnings) lines.push(`    warning: ${w}`);
  if (showDiffs) for (const d of r.diffs) lines.push(renderDiff(d));
  return lines.join('\n');
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(headers), ...rows.map(line)].join('\n');
}

export function outcomeWord(o: ApplyOutcome): string {
  if (o.error) return 'unreachable';
  const s = o.summary!;
  if (s.failed) return 'failed';
  if (s.changed) return 'changed';
  if (s.wouldChange) return 'would-change';
  return 'ok';
}

export function summaryTable(outcomes: ApplyOutcome[]): string {
  return table(
    ['NODE', 'RESULT', 'OK', 'CHANGED', 'WOULD', 'FAILED', 'TIME', 'REVISION', 'DETAIL'],
    outcomes.map((o) => {
      const s = o.summary;
      const failed = o.results.find((r) => r.status === TaskStatus.TASK_STATUS_FAILED);
      return [
        o.node,
        outcomeWord(o),
        String(s?.ok ?? '-'),
        String(s?.changed ?? '-'),
        String(s?.wouldChange ?? '-'),
        String(s?.failed ?? '-'),
        `${Math.round(o.durationMs)}ms`,
        s?.revision ?? '-',
        o.error ?? (failed ? `${failed.id}: ${failed.errorCode}: ${failed.errorMessage}` : ''),
      ];
    }),
  );
}

export function printNode(io: Io, out: ApplyOutcome, showDiffs: boolean, applying: boolean, prefix = ''): void {
  const tag = applying ? '[apply]' : '[plan]';
  const head = `${tag}${prefix ? ' ' + prefix : ''} ${out.node}`;
  if (out.error) {
    io.out(`${head}: ${out.error}`);
    return;
  }
  const s = out.summary!;
  const removals = out.results.filter((r) => r.removal && (r.status === TaskStatus.TASK_STATUS_CHANGED || r.status === TaskStatus.TASK_STATUS_WOULD_CHANGE)).length;
  const counts = (applying ? `${s.changed} changed, ${s.ok} ok` : `${s.wouldChange} would change, ${s.ok} ok`) + (removals ? `, ${removals} ${applying ? 'removed' : 'to remove'}` : '');
  io.out(`${head}: ${outcomeWord(out)} (${counts}${s.failed ? `, ${s.failed} failed` : ''}) revision ${s.revision}`);
  for (const r of out.results) {
    if (r.status === TaskStatus.TASK_STATUS_OK || (r.status === TaskStatus.TASK_STATUS_SKIPPED && !r.errorCode)) continue;
    io.out(renderTask(r, showDiffs));
  }
}

export function outcomeJson(o: ApplyOutcome) {
  return {
    node: o.node,
    result: outcomeWord(o),
    error: o.error,
    revision: o.summary?.revision,
    durationMs: Math.round(o.durationMs),
    tasks: o.results.map((r) => ({ id: r.id, kind: r.kind, status: statusWord(r.status), ...(r.removal ? { removal: true } : {}), errorCode: r.errorCode || undefined, errorMessage: r.errorMessage || undefined, diffs: r.diffs })),
  };
}

// What plan and validate made in memory because the state folder does not hold it yet.
export function issuedNote(tag: string, issued: string[]): string | undefined {
  if (!issued.length) return undefined;
  const shown = issued.length > 6 ? `${issued.slice(0, 6).join(', ')} and ${issued.length - 6} more` : issued.join(', ');
  return `${tag} ${issued.length} certificate(s) or key(s) not in the state folder yet (${shown}): issued in memory for this run only; "muster apply" issues and keeps them, so the revisions of the nodes holding them will differ from these`;
}
