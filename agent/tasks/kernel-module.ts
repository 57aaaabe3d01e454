import type { KernelModuleSpec } from '../../proto/gen/muster/agent/v1/system.js';
import { AgentError } from '../errors.js';
import type { FileState } from '../host/host.js';
import type { Kernel } from '../host/kernel.js';
import { applyFile, diffFile, removeFiles, type DesiredFile } from './managed-file.js';
import { modprobe } from './system-commands.js';
import { runSystem } from './system-run.js';
import type { Change, Problem, Task } from './task.js';

export const DEFAULT_MODULES_FILE = '/etc/modules-load.d/muster.conf';
// A leading '-' would read as an option to modprobe.
const NAME = /^[a-zA-Z0-9_][a-zA-Z0-9_-]{0,63}$/;

interface Observed {
  file: FileState | null;
  loaded: boolean[];
}

// The kernel names a module with '_' wherever modprobe accepts '-' as well.
const kernelName = (name: string) => name.replace(/-/g, '_');

function file(spec: KernelModuleSpec): DesiredFile {
  return { path: spec.file || DEFAULT_MODULES_FILE, content: Buffer.from(`# Managed by muster.\n${spec.names.join('\n')}\n`), mode: 0o644 };
}

// Loaded or built in, as the kernel lists them.
async function loaded(spec: KernelModuleSpec, kernel: Kernel): Promise<boolean[]> {
  const have = await kernel.modules();
  return spec.names.map((n) => have.has(kernelName(n)));
}

export const kernelModuleTask: Task<KernelModuleSpec, Observed> = {
  kind: 'kernel-module',
  keys: (spec) => [`file:${spec.file || DEFAULT_MODULES_FILE}`, ...spec.names.map((n) => `kernel-module:${kernelName(n)}`)],
  validate(spec) {
    const problems: Problem[] = [];
    const bad = (message: string) => problems.push({ code: 'INVALID_SPEC', message: `kernel-module: ${message}` });
    if (!spec.names.length) bad('names are empty');
    for (const n of spec.names) if (!NAME.test(n)) bad(`name ${JSON.stringify(n)} is not a module name (letters, digits, '-', '_')`);
    if (new Set(spec.names.map(kernelName)).size !== spec.names.length) bad('a module is named twice');
    if (spec.file && !/^\/etc\/modules-load\.d\/[^/]+\.conf$/.test(spec.file)) bad(`file ${spec.file} must be /etc/modules-load.d/<name>.conf`);
    return problems;
  },
  async observe(spec, ctx) {
    return { file: await ctx.host.read(file(spec).path), loaded: await loaded(spec, ctx.kernel) };
  },
  diff(spec, observed) {
    const changes: Change[] = diffFile(file(spec), observed.file);
    spec.names.forEach((n, i) => {
      if (!observed.loaded[i]) changes.push({ header: `kernel module ${n} (live)`, before: 'not loaded', after: 'loaded' });
    });
    return changes;
  },
  async apply(spec, observed, ctx) {
    for (const [i, n] of spec.names.entries()) {
      if (observed.loaded[i]) continue;
      const r = await runSystem(ctx, modprobe(n), { allowFailure: true });
      if (r.code !== 0) throw new AgentError('MODULE_NOT_FOUND', `kernel-module: modprobe ${n} failed: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}`);
    }
    await applyFile(ctx.host, file(spec), observed.file);
  },
  watchPaths: (spec) => [file(spec).path],
  // Leaving the plan removes the boot-time file; a loaded module stays until the next boot.
  removal: (spec, kept) => (kept(`file:${file(spec).path}`) ? undefined : removeFiles([file(spec)])),
};
