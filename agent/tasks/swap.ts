import type { SwapSpec } from '../../proto/gen/muster/agent/v1/system.js';
import type { FileState } from '../host/host.js';
import { applyFile } from './managed-file.js';
import { swapoff } from './system-commands.js';
import { runSystem } from './system-run.js';
import type { Change, Problem, Task } from './task.js';

export const DEFAULT_FSTAB = '/etc/fstab';
// A swap line muster turned off keeps its text after this mark, so the operator can see and undo it.
export const DISABLED_MARK = '# swap off (muster): ';

interface Observed {
  // active swap areas, from /proc/swaps
  active: string[];
  fstab: FileState | null;
}

const fstabOf = (spec: SwapSpec) => spec.fstab || DEFAULT_FSTAB;

const isSwapLine = (line: string) => {
  const fields = line.trim().split(/\s+/);
  return !line.trim().startsWith('#') && fields.length >= 3 && fields[2] === 'swap';
};

// The fstab text with every active swap line commented out; the lines stay where they were.
export function disableSwapLines(text: string): string {
  return text.split('\n').map((l) => (isSwapLine(l) ? DISABLED_MARK + l : l)).join('\n');
}

export const swapTask: Task<SwapSpec, Observed> = {
  kind: 'swap',
  keys: () => ['swap:all'],
  validate(spec) {
    const problems: Problem[] = [];
    if (spec.fstab && !/^\/[^\0]*fstab$/.test(spec.fstab)) problems.push({ code: 'INVALID_SPEC', message: `swap: fstab ${spec.fstab} is not an fstab path` });
    return problems;
  },
  async observe(spec, ctx) {
    return { active: await ctx.kernel.swaps(), fstab: await ctx.host.read(fstabOf(spec)) };
  },
  diff(spec, observed) {
    const changes: Change[] = observed.active.map((f) => ({ header: `swap ${f} (live, /proc/swaps)`, before: 'on', after: 'off' }));
    const lines = observed.fstab?.content.toString('utf8').split('\n') ?? [];
    lines.forEach((l, i) => {
      if (isSwapLine(l)) changes.push({ header: `${fstabOf(spec)} line ${i + 1}`, before: l, after: DISABLED_MARK + l });
    });
    return changes;
  },
  async apply(spec, observed, ctx) {
    for (const f of observed.active) await runSystem(ctx, swapoff(f), { timeoutMs: 300_000 });
    const have = observed.fstab;
    if (!have) return;
    const text = have.content.toString('utf8');
    const next = disableSwapLines(text);
    if (next !== text) await applyFile(ctx.host, { path: fstabOf(spec), content: Buffer.from(next), mode: have.mode }, have);
  },
  watchPaths: (spec) => [fstabOf(spec)],
};
