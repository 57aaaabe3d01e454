import { createTwoFilesPatch } from 'diff';
import { TaskStatus, type Diff, type TaskResult } from '../../proto/gen/muster/agent/v1/agent.js';
import { outcomeOf, type OutcomeCounts, type RunSummary } from '../app/run.js';
import type { ApplyOutcome } from '../fleet/client.js';
import { iso, painter, paintResult, visibleLength, type Paint } from './format.js';
import type { GlobalOptions, Io, OutputFormat } from './io.js';

export interface RunFlags extends GlobalOptions {
  tasks?: string;
  cluster?: string;
  concurrency: number;
  timeout: number;
  diff: boolean;
  output: OutputFormat;
  limit?: string;
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

export function renderTask(r: TaskResult, showDiffs: boolean, paint: Paint = painter(false)): string {
  const mark = r.removal ? '-' : ({ ok: '=', changed: '~', 'would-change': '~', failed: '!', skipped: '-' }[statusWord(r.status)] ?? '?');
  const word = r.removal ? removalWords(r) : paintResult(paint, statusWord(r.status));
  const lines = [`  ${mark} ${r.id} (${r.kind}) ${word}${r.errorCode ? `: ${r.errorCode}: ${r.errorMessage}` : ''}`];
  for (const w of r.warnings) lines.push(`    warning: ${w}`);
  if (showDiffs) for (const d of r.diffs) lines.push(renderDiff(d));
  return lines.join('\n');
}

// Columns padded by what shows on screen, so coloured cells line up.
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i] - visibleLength(c)))).join('  ');
  return [line(headers), ...rows.map(line)].join('\n');
}

export const outcomeWord = (o: ApplyOutcome): string => outcomeOf(o);

export function summaryTable(outcomes: ApplyOutcome[], wide = false, paint: Paint = painter(false), nodes?: Map<string, { roles: string[]; address: string; agentPort: number }>): string {
  const headers = ['NODE', 'RESULT', 'OK', 'CHANGED', 'WOULD', 'FAILED', 'TIME', 'REVISION', ...(wide ? ['ROLES', 'ADDRESS', 'TASKS'] : []), 'DETAIL'];
  return table(
    headers,
    outcomes.map((o) => {
      const s = o.summary;
      const failed = o.results.find((r) => r.status === TaskStatus.TASK_STATUS_FAILED);
      const n = nodes?.get(o.node);
      return [
        o.node,
        paintResult(paint, outcomeWord(o)),
        String(s?.ok ?? '-'),
        String(s?.changed ?? '-'),
        String(s?.wouldChange ?? '-'),
        String(s?.failed ?? '-'),
        `${Math.round(o.durationMs)}ms`,
        s?.revision ?? '-',
        ...(wide ? [n?.roles.join(',') ?? '-', n ? `${n.address}:${n.agentPort}` : '-', String(o.results.length)] : []),
        o.error ?? (failed ? `${failed.id}: ${failed.errorCode}: ${failed.errorMessage}` : ''),
      ];
    }),
  );
}

export function printNode(io: Io, out: ApplyOutcome, showDiffs: boolean, applying: boolean, prefix = ''): void {
  const paint = painter(io.color);
  const tag = applying ? '[apply]' : '[plan]';
  const head = `${tag}${prefix ? ' ' + prefix : ''} ${out.node}`;
  if (out.error) {
    io.out(`${head}: ${paintResult(paint, 'unreachable')}: ${out.error}`);
    return;
  }
  const s = out.summary!;
  const removals = out.results.filter((r) => r.removal && (r.status === TaskStatus.TASK_STATUS_CHANGED || r.status === TaskStatus.TASK_STATUS_WOULD_CHANGE)).length;
  const counts = (applying ? `${s.changed} changed, ${s.ok} ok` : `${s.wouldChange} would change, ${s.ok} ok`) + (removals ? `, ${removals} ${applying ? 'removed' : 'to remove'}` : '');
  io.out(`${head}: ${paintResult(paint, outcomeWord(out))} (${counts}${s.failed ? `, ${s.failed} failed` : ''}) revision ${s.revision}`);
  for (const r of out.results) {
    if (r.status === TaskStatus.TASK_STATUS_OK || (r.status === TaskStatus.TASK_STATUS_SKIPPED && !r.errorCode)) continue;
    io.out(renderTask(r, showDiffs, paint));
  }
}

export function outcomeJson(o: ApplyOutcome, showDiffs = true) {
  return {
    node: o.node,
    result: outcomeWord(o),
    error: o.error,
    revision: o.summary?.revision,
    durationMs: Math.round(o.durationMs),
    tasks: o.results.map((r) => ({ id: r.id, kind: r.kind, status: statusWord(r.status), ...(r.removal ? { removal: true } : {}), errorCode: r.errorCode || undefined, errorMessage: r.errorMessage || undefined, warnings: r.warnings.length ? r.warnings : undefined, diffs: showDiffs ? r.diffs : undefined })),
  };
}

// The one line that closes a plan or an apply: every node counted once, the counts add up.
export function countsLine(counts: OutcomeCounts, applying: boolean): string {
  const parts = [
    applying ? `${counts.changed} changed` : `${counts['would-change']} would change`,
    `${counts.ok} ok`,
    `${counts.failed} failed`,
    `${counts.unreachable} unreachable`,
  ];
  return parts.join(', ');
}

export function reportJson(command: 'plan' | 'apply', r: RunSummary, startedAt: number, showDiffs: boolean) {
  return {
    command,
    startedAt: iso(startedAt),
    durationMs: Math.round(r.durationMs),
    summary: (({ total, ...byOutcome }) => ({ nodes: total, inventoryNodes: r.planned, ...byOutcome }))(r.counts),
    certificates: r.persisted ? { issued: r.issued } : { issuedInMemory: r.issued },
    nodes: r.outcomes.map((o) => outcomeJson(o, showDiffs)),
  };
}

// What plan and validate made in memory because the state folder does not hold it yet.
export function issuedNote(tag: string, issued: string[]): string | undefined {
  if (!issued.length) return undefined;
  const shown = issued.length > 6 ? `${issued.slice(0, 6).join(', ')} and ${issued.length - 6} more` : issued.join(', ');
  return `${tag} ${issued.length} certificate(s) or key(s) not in the state folder yet (${shown}): issued in memory for this run only; "muster apply" issues and keeps them, so the revisions of the nodes holding them will differ from these`;
}
