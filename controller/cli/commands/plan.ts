import { plan } from '../../app/run.js';
import { EXIT, type Io } from '../io.js';
import { issuedNote, outcomeJson, printNode, summaryTable, type RunFlags } from '../output.js';

export async function run(o: RunFlags, io: Io): Promise<number> {
  const { planSet, outcomes } = await plan({ ...o, timeoutMs: o.timeout * 1000 });
  if (o.json) {
    io.out(JSON.stringify(outcomes.map(outcomeJson), null, 2));
  } else {
    for (const out of outcomes) printNode(io, out, o.diff, false);
    io.out('');
    io.out(summaryTable(outcomes));
  }
  const unreachable = outcomes.filter((x) => x.error || x.summary?.failed);
  const changes = outcomes.filter((x) => x.summary?.wouldChange);
  if (!o.json) {
    io.out(`\n[plan] ${planSet.plans.length} nodes: ${changes.length} would change, ${unreachable.length} failed or unreachable`);
    const note = issuedNote('[plan]', planSet.issued);
    if (note) io.out(note);
  }
  if (unreachable.length) return EXIT.FAILED;
  return changes.length ? EXIT.CHANGES : EXIT.OK;
}
