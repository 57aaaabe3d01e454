import { apply } from '../../app/run.js';
import { EXIT, type Io } from '../io.js';
import { outcomeJson, printNode, summaryTable, type RunFlags } from '../output.js';

export async function run(o: RunFlags, io: Io): Promise<number> {
  let done = 0;
  let total = 0;
  const { planSet, outcomes, durationMs } = await apply({
    ...o,
    timeoutMs: o.timeout * 1000,
    onNode: (out) => {
      done++;
      if (!o.json) printNode(io, out, o.diff, true, `[${done}/${total}]`);
    },
    onStart: (set) => {
      total = set.plans.length;
    },
  });
  const failed = outcomes.filter((x) => x.error || x.summary?.failed);
  if (o.json) io.out(JSON.stringify(outcomes.map(outcomeJson), null, 2));
  else {
    io.out('');
    io.out(summaryTable(outcomes));
    const changed = outcomes.filter((x) => x.summary?.changed).length;
    io.out(`\n[apply] ${planSet.plans.length} nodes in ${Math.round(durationMs)} ms: ${changed} changed, ${failed.length} failed or unreachable`);
  }
  return failed.length ? EXIT.FAILED : EXIT.OK;
}
