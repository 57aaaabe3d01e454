import { controlRollout } from '../../app/rollout.js';
import { EXIT, type GlobalOptions, type Io } from '../io.js';

export async function run(o: GlobalOptions & { id?: string; reason?: string }, io: Io): Promise<number> {
  const r = await controlRollout(o, 'pause');
  io.out(`[rollout] ${r.id} paused: ${r.reason}; the nodes in flight finish their step, nothing more is dispatched`);
  return EXIT.OK;
}
