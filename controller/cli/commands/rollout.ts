import { previewRollout, startRollout, statusOfRollout } from '../../app/rollout.js';
import type { RolloutOptions, RoleMs } from '../../rollout/runner.js';
import { confirm } from '../confirm.js';
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
  const rollout = rolloutOptions(o);
  const preview = await previewRollout({ ...o, timeoutMs: o.timeout * 1000, rollout, dryRun: o.dryRun });
  try {
    const quiet = machineReadable(o.output);
    if (!quiet) {
      for (const out of preview.outcomes) printNode(io, out, o.diff, false);
      io.out('');
      io.out(summaryTable(preview.outcomes));
      io.out('');
      for (const l of waveLines(preview.waves)) io.out(l);
    }
    const nodes = preview.waves.waves.reduce((n, w) => n + w.nodes.length, 0);
    if (o.dryRun) {
      if (!quiet) io.out(`[rollout] dry run: ${preview.waves.waves.length} wave(s), ${nodes} node(s) would change; nothing was sent or kept`);
      return EXIT.OK;
    }
    if (!nodes) {
      if (!quiet) io.out('[rollout] every node already runs its plan: nothing to roll out');
      return EXIT.OK;
    }
    if (!(await confirm(`Roll out ${nodes} node(s) in ${preview.waves.waves.length} wave(s)?`, o.yes))) {
      io.out('[rollout] not confirmed: nothing was sent');
      return EXIT.FAILED;
    }
    const r = await startRollout(preview, {
      rollout,
      onEntry: quiet ? undefined : (e) => io.out(entryLine(e)),
      onWait: quiet ? undefined : (w) => io.out(waitLine(w)),
    });
    if (quiet) emit(io, o.output, statusJson(await statusOfRollout({ state: o.state, id: r.id })), () => '');
    else for (const l of endLines(r)) io.out(l);
    return exitFor(r);
  } finally {
    preview.close();
  }
}
