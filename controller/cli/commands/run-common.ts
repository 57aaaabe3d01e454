import { summaryOf, type RunOptions, type RunReport, type RunSummary } from '../../app/run.js';
import { emit, machineReadable, painter } from '../format.js';
import type { Io } from '../io.js';
import { withRemote } from '../remote.js';
import { LiveView } from '../live.js';
import { countsLine, issuedNote, printNode, reportJson, summaryTable, type RunFlags } from '../output.js';

// plan and apply print the same way: live progress, then the summary table and the counts line.
export async function runAndPrint(command: 'plan' | 'apply', o: RunFlags, io: Io, run: (o: RunOptions) => Promise<RunReport>): Promise<RunReport> {
  const applying = command === 'apply';
  const machine = machineReadable(o.output);
  const tag = `[${command}]`;
  const startedAt = Date.now();
  let live: LiveView | undefined;
  let done = 0;
  let total = 0;
  const report = await run({
    ...o,
    timeoutMs: o.timeout * 1000,
    onStart: (_set, sent) => {
      total = sent.length;
      if (!machine) live = new LiveView(io, tag, sent, o.concurrency);
    },
    onTask: (node, r) => live?.task(node, r),
    onNode: (out) => {
      done++;
      if (!machine) live!.node(out.node, () => printNode(io, out, o.diff, applying, applying ? `[${done}/${total}]` : ''));
    },
  }).finally(() => live?.close());
  printSummary(command, o, io, summaryOf(report), startedAt);
  return report;
}

// apply through muster serve: the job's nodes and then the same summary (no live block: the
// nodes are printed as the in-process apply prints them when piped).
export async function applyRemote(o: RunFlags & { controller: string }, io: Io): Promise<RunSummary> {
  const startedAt = Date.now();
  const report = await withRemote(o, (r) => r.apply({ cluster: o.cluster, tasks: o.tasks, limit: o.limit, concurrency: o.concurrency, timeout: o.timeout }));
  if (!machineReadable(o.output)) report.outcomes.forEach((out, i) => printNode(io, out, o.diff, true, `[${i + 1}/${report.outcomes.length}]`));
  printSummary('apply', o, io, report, startedAt);
  return report;
}

// The summary table and the counts line (or the JSON report) of a finished plan or apply.
export function printSummary(command: 'plan' | 'apply', o: RunFlags, io: Io, report: RunSummary, startedAt: number): void {
  const applying = command === 'apply';
  const tag = `[${command}]`;
  const { counts } = report;
  const nodes = new Map(report.nodes.map((n) => [n.name, n]));
  emit(io, o.output, reportJson(command, report, startedAt, o.diff), (wide) => {
    const paint = painter(io.color);
    const scope = report.sent === report.planned ? `${counts.total} nodes` : `${counts.total} of ${report.planned} nodes (--limit ${o.limit})`;
    const lines = ['', summaryTable(report.outcomes, wide, paint, nodes), '', `${tag} ${scope}${applying ? ` in ${Math.round(report.durationMs)} ms` : ''}: ${countsLine(counts, applying)}`];
    const note = issuedNote(tag, report.persisted ? [] : report.issued);
    if (note) lines.push(note);
    return lines.join('\n');
  });
}
