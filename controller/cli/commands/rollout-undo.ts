import { undoRollout } from '../../app/rollout.js';
import { confirm } from '../confirm.js';
import { EXIT, type GlobalOptions, type Io } from '../io.js';
import { endLines, entryLine, exitFor, waitLine } from '../rollout-view.js';

export async function run(o: GlobalOptions & { id?: string; toGeneration?: number; timeout: number; yes?: boolean }, io: Io): Promise<number> {
  const what = o.toGeneration ? `generation ${o.toGeneration}` : 'the generation each node had before';
  if (!(await confirm(`Roll ${o.id ? `rollout ${o.id}` : 'the latest rollout'} back to ${what}?`, o.yes))) {
    io.out('[rollout] not confirmed: nothing was sent');
    return EXIT.FAILED;
  }
  const r = await undoRollout({ ...o, timeoutMs: o.timeout * 1000, onEntry: (e) => io.out(entryLine(e)), onWait: (w) => io.out(waitLine(w)) });
  for (const l of endLines(r)) io.out(l);
  return exitFor(r);
}
