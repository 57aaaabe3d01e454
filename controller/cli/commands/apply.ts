import { apply } from '../../app/run.js';
import { EXIT, type Io } from '../io.js';
import type { RunFlags } from '../output.js';
import { applyRemote, runAndPrint } from './run-common.js';

// Exit 0 every node converged, 1 a node failed or could not be reached.
export async function run(o: RunFlags, io: Io): Promise<number> {
  const { counts } = o.controller ? await applyRemote({ ...o, controller: o.controller }, io) : await runAndPrint('apply', o, io, apply);
  return counts.failed || counts.unreachable ? EXIT.FAILED : EXIT.OK;
}
