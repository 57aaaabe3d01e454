import { resumeRollout } from '../../app/rollout.js';
import type { JournalEntry, OpenWait } from '../../store/store.js';
import type { GlobalOptions, Io } from '../io.js';
import { withRemote } from '../remote.js';
import { endLines, entryLine, exitFor, waitLine } from '../rollout-view.js';

export async function run(o: GlobalOptions & { id?: string; timeout: number }, io: Io): Promise<number> {
  const progress = { onEntry: (e: JournalEntry) => io.out(entryLine(e)), onWait: (w: OpenWait) => io.out(waitLine(w)) };
  const r = o.controller ? await withRemote({ ...o, controller: o.controller }, (c) => c.resume(o.id, progress)) : await resumeRollout({ ...o, timeoutMs: o.timeout * 1000, ...progress });
  for (const l of endLines(r)) io.out(l);
  return exitFor(r);
}
