import { createTwoFilesPatch } from 'diff';
import { TaskStatus, type Diff, type TaskResult } from '../../proto/gen/muster/agent/v1/agent.js';
import type { ApplyOutcome } from '../fleet/client.js';

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

export function renderTask(r: TaskResult, showDiffs: boolean): string {
  const mark = { ok: '=', changed: '~', 'would-change': '~', failed: '!', skipped: '-' }[statusWord(r.status)] ?? '?';
  const lines = [`  ${mark} ${r.id} (${r.kind}) ${statusWord(r.status)}${r.errorCode ? `: ${r.errorCode}: ${r.errorMessage}` : ''}`];
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
