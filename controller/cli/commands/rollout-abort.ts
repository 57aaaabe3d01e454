import { controlRollout } from '../../app/rollout.js';
import { EXIT, type GlobalOptions, type Io } from '../io.js';
import { withRemote } from '../remote.js';

export async function run(o: GlobalOptions & { id?: string; reason?: string }, io: Io): Promise<number> {
  const r = o.controller ? await withRemote({ ...o, controller: o.controller }, (c) => c.control(o.id, 'abort', o.reason)) : await controlRollout(o, 'abort');
  io.out(`[rollout] ${r.id} aborted: ${r.reason}; it cannot be resumed ("muster rollout undo ${r.id}" rolls its nodes back)`);
  return EXIT.OK;
}
