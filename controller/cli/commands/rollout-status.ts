import { setTimeout as delay } from 'node:timers/promises';
import { statusOfRollout } from '../../app/rollout.js';
import { emit } from '../format.js';
import { EXIT, type GlobalOptions, type Io, type OutputFormat } from '../io.js';
import { exitFor, statusJson, statusText } from '../rollout-view.js';

// With --watch: printed again whenever it changes, until the rollout stops running (the exit
// code then says how it ended: 0 done, 3 paused, 1 failed or aborted).
export async function run(o: GlobalOptions & { id?: string; output: OutputFormat; watch?: boolean; interval: number }, io: Io): Promise<number> {
  let last = '';
  for (;;) {
    const s = await statusOfRollout(o);
    // The open waits' "for N s" column changes every second; compare without it.
    const key = JSON.stringify(statusJson(s));
    if (key !== last) {
      if (last) io.out('');
      emit(io, o.output, statusJson(s), () => statusText(s));
      last = key;
    }
    if (!o.watch) return EXIT.OK;
    if (s.rollout.state !== 'running') return exitFor(s.rollout);
    await delay(o.interval);
  }
}
