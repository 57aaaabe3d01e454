import { setTimeout as delay } from 'node:timers/promises';
import { statusOfRollout } from '../../app/rollout.js';
import type { RolloutStatus } from '../../rollout/control.js';
import { emit } from '../format.js';
import { withRemote } from '../remote.js';
import { EXIT, type GlobalOptions, type Io, type OutputFormat } from '../io.js';
import { exitFor, statusJson, statusText } from '../rollout-view.js';

// With --watch: printed again whenever it changes, until the rollout stops running (the exit
// code then says how it ended: 0 done, 3 paused, 1 failed or aborted).
export async function run(o: GlobalOptions & { id?: string; output: OutputFormat; watch?: boolean; interval: number }, io: Io): Promise<number> {
  if (o.controller) return withRemote({ ...o, controller: o.controller }, (c) => show(o, io, () => c.status(o.id)));
  return show(o, io, () => statusOfRollout(o));
}

async function show(o: { output: OutputFormat; watch?: boolean; interval: number }, io: Io, read: () => Promise<RolloutStatus>): Promise<number> {
  let last = '';
  for (;;) {
    const s = await read();
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
