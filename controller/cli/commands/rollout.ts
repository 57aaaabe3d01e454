import { previewRollout, startRollout, statusOfRollout } from '../../app/rollout.js';
import type { RolloutOptions, RoleMs } from '../../rollout/runner.js';
import type { RemoteController } from '../../app/remote.js';
import type { RolloutResult } from '../../app/service.js';
import type { RolloutStatus } from '../../rollout/control.js';
import type { JournalEntry, OpenWait, RolloutRecord } from '../../store/store.js';
import { confirm } from '../confirm.js';
import { withRemote } from '../remote.js';
import { emit, machineReadable } from '../format.js';
import { EXIT, type Io } from '../io.js';
import { printNode, summaryTable, type RunFlags } from '../output.js';
import { endLines, entryLine, exitFor, statusJson, waitLine, waveLines } from '../rollout-view.js';

export interface RolloutFlags extends RunFlags {
  batch?: string;
  by?: string;
  canary?: number;
  canaryWait?: number;
  maxFailed?: string;
  soak?: RoleMs;
  gateTimeout?: RoleMs;
  poll?: number;
  hookBefore?: string;
  hookAfter?: string;
  hookTimeout?: number;
  yes?: boolean;
  dryRun?: boolean;
}

// Hooks are shell commands (kubectl drain "$MUSTER_NODE" ...): the node comes in the environment.
const shell = (cmd: string | undefined) => (cmd ? ['/bin/sh', '-c', cmd] : undefined);

export function rolloutOptions(o: RolloutFlags): RolloutOptions {
  return {
    batch: o.batch,
    by: o.by,
    canary: o.canary,
    canaryWaitMs: o.canaryWait,
    maxFailed: o.maxFailed,
    soakMs: o.soak,
    gateTimeoutMs: o.gateTimeout,
    pollMs: o.poll,
    hooks: o.hookBefore || o.hookAfter ? { before: shell(o.hookBefore), after: shell(o.hookAfter), timeoutMs: o.hookTimeout } : undefined,
  };
}

export async function run(o: RolloutFlags, io: Io): Promise<number> {
  if (o.controller) return withRemote({ ...o, controller: o.controller }, (r) => remote(o, io, r));
  const rollout = rolloutOptions(o);
  const preview = await previewRollout({ ...o, timeoutMs: o.timeout * 1000, rollout, dryRun: o.dryRun });
  try {
    if (!(await confirmed(o, io, preview))) return o.dryRun || !changing(preview) ? EXIT.OK : EXIT.FAILED;
    const r = await startRollout(preview, { rollout, ...progress(o, io) });
    return await ending(o, io, r, () => statusOfRollout({ state: o.state, id: r.id }));
  } finally {
    preview.close();
  }
}

// Through muster serve: a dry-run job for the preview, then the rollout job, its journal live.
async function remote(o: RolloutFlags, io: Io, r: RemoteController): Promise<number> {
  const req = { cluster: o.cluster, tasks: o.tasks, limit: o.limit, concurrency: o.concurrency, timeout: o.timeout, options: rolloutOptions(o) };
  const preview = await r.rollout({ ...req, dryRun: true });
  if (!(await confirmed(o, io, preview))) return o.dryRun || !changing(preview) ? EXIT.OK : EXIT.FAILED;
  const done = await r.rollout(req, progress(o, io));
  if (!done.rollout) {
    if (!machineReadable(o.output)) io.out('[rollout] every node already runs its plan: nothing to roll out');
    return EXIT.OK;
  }
  return ending(o, io, done.rollout, () => r.status(done.rollout!.id));
}

const changing = (p: Pick<RolloutResult, 'waves'>) => p.waves.waves.reduce((n, w) => n + w.nodes.length, 0);

// Prints the preview; whether to go on (not on a dry run, nothing to change, or no confirmation).
async function confirmed(o: RolloutFlags, io: Io, preview: Pick<RolloutResult, 'outcomes' | 'waves'>): Promise<boolean> {
  const quiet = machineReadable(o.output);
  if (!quiet) {
    for (const out of preview.outcomes) printNode(io, out, o.diff, false);
    io.out('');
    io.out(summaryTable(preview.outcomes));
    io.out('');
    for (const l of waveLines(preview.waves)) io.out(l);
  }
  const nodes = changing(preview);
  if (o.dryRun) {
    if (!quiet) io.out(`[rollout] dry run: ${preview.waves.waves.length} wave(s), ${nodes} node(s) would change; nothing was sent or kept`);
    return false;
  }
  if (!nodes) {
    if (!quiet) io.out('[rollout] every node already runs its plan: nothing to roll out');
    return false;
  }
  if (!(await confirm(`Roll out ${nodes} node(s) in ${preview.waves.waves.length} wave(s)?`, o.yes))) {
    io.out('[rollout] not confirmed: nothing was sent');
    return false;
  }
  return true;
}

function progress(o: RolloutFlags, io: Io) {
  const quiet = machineReadable(o.output);
  return { onEntry: quiet ? undefined : (e: JournalEntry) => io.out(entryLine(e)), onWait: quiet ? undefined : (w: OpenWait) => io.out(waitLine(w)) };
}

async function ending(o: RolloutFlags, io: Io, r: RolloutRecord, status: () => Promise<RolloutStatus>): Promise<number> {
  if (machineReadable(o.output)) emit(io, o.output, statusJson(await status()), () => '');
  else for (const l of endLines(r)) io.out(l);
  return exitFor(r);
}
