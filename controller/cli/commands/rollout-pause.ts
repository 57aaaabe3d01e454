import { controlRollout } from '../../app/rollout.js';
import { EXIT, type GlobalOptions, type Io } from '../io.js';
import { withRemote } from '../remote.js';

export async function run(o: GlobalOptions & { id?: string; reason?: string }, io: Io): Promise<number> {
  const r = o.controller ? await withRemote({ ...o, controller: o.controller }, (c) => c.control(o.id, 'pause', o.reason)) : await controlRollout(o, 'pause');
  io.out(`[rollout] ${r.id} paused: ${r.reason}; the nodes in flight finish their step, nothing more is dispatched`);
  return EXIT.OK;
}
