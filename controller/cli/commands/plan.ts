import { plan } from '../../app/run.js';
import { EXIT, type Io } from '../io.js';
import type { RunFlags } from '../output.js';
import { runAndPrint } from './run-common.js';

// Exit 0 nothing to change, 2 changes pending, 1 a node failed or could not be reached.
export async function run(o: RunFlags, io: Io): Promise<number> {
  const { counts } = await runAndPrint('plan', o, io, plan);
  if (counts.failed || counts.unreachable) return EXIT.FAILED;
  return counts['would-change'] ? EXIT.CHANGES : EXIT.OK;
}
