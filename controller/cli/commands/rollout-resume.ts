import { resumeRollout } from '../../app/rollout.js';
import type { GlobalOptions, Io } from '../io.js';
import { endLines, entryLine, exitFor, waitLine } from '../rollout-view.js';

export async function run(o: GlobalOptions & { id?: string; timeout: number }, io: Io): Promise<number> {
  const r = await resumeRollout({ ...o, timeoutMs: o.timeout * 1000, onEntry: (e) => io.out(entryLine(e)), onWait: (w) => io.out(waitLine(w)) });
  for (const l of endLines(r)) io.out(l);
  return exitFor(r);
}
