import type { SysctlSpec } from '../../proto/gen/muster/agent/v1/system.js';
import { AgentError } from '../errors.js';
import type { FileState } from '../host/host.js';
import { sysctlPath } from '../host/kernel.js';
import { applyFile, diffFile, removeFiles, type DesiredFile } from './managed-file.js';
import type { Change, Problem, Task } from './task.js';

export const DEFAULT_SYSCTL_FILE = '/etc/sysctl.d/90-muster.conf';
const NAME = /^[a-z0-9_]+(\.[a-zA-Z0-9_-]+)+$/;
const MAX_VALUE = 4096;

interface Observed {
  file: FileState | null;
  // live value per name; null when this kernel has no such key
  live: (string | null)[];
}

const names = (spec: SysctlSpec) => Object.keys(spec.settings).sort();
const procPath = sysctlPath;
// The kernel separates the fields of a multi-value key with tabs; a spec may use spaces.
const normal = (value: string) => value.trim().split(/\s+/).join(' ');

function file(spec: SysctlSpec): DesiredFile {
  const lines = names(spec).map((n) => `${n} = ${normal(spec.settings[n])}`);
  return { path: spec.file || DEFAULT_SYSCTL_FILE, content: Buffer.from(`# Managed by muster.\n${lines.join('\n')}\n`), mode: 0o644 };
}

export const sysctlTask: Task<SysctlSpec, Observed> = {
  kind: 'sysctl',
  keys: (spec) => [`file:${spec.file || DEFAULT_SYSCTL_FILE}`, ...names(spec).map((n) => `sysctl:${n}`)],
  validate(spec) {
    const problems: Problem[] = [];
    const bad = (message: string) => problems.push({ code: 'INVALID_SPEC', message: `sysctl: ${message}` });
    if (names(spec).length === 0) bad('settings are empty');
    for (const n of names(spec)) {
      const v = spec.settings[n];
      if (!NAME.test(n)) bad(`name ${JSON.stringify(n)} is not a dotted kernel parameter such as net.ipv4.ip_forward`);
      else if (/[\n\r\0]/.test(v) || normal(v) === '') bad(`${n}: value ${JSON.stringify(v)} must be one line and not empty`);
      else if (v.length > MAX_VALUE) bad(`${n}: value is longer than ${MAX_VALUE} bytes`);
    }
    if (spec.file && !/^\/etc\/sysctl\.d\/[^/]+\.conf$/.test(spec.file)) bad(`file ${spec.file} must be /etc/sysctl.d/<name>.conf (systemd-sysctl reads only *.conf there)`);
    return problems;
  },
  async observe(spec, ctx) {
    const live = await Promise.all(names(spec).map((n) => ctx.kernel.sysctl(n)));
    return { file: await ctx.host.read(file(spec).path), live: live.map((v) => (v === null ? null : normal(v))) };
  },
  diff(spec, observed) {
    const changes: Change[] = diffFile(file(spec), observed.file);
    names(spec).forEach((n, i) => {
      const want = normal(spec.settings[n]);
      if (observed.live[i] !== want) changes.push({ header: `${n} (live, ${procPath(n)})`, before: observed.live[i] ?? '(no such key in this kernel)', after: want });
    });
    return changes;
  },
  async apply(spec, observed, ctx) {
    const missing = names(spec).filter((_, i) => observed.live[i] === null);
    if (missing.length) throw new AgentError('SYSCTL_NOT_FOUND', `sysctl: this kernel has no ${missing.map(procPath).join(', ')}`);
    await applyFile(ctx.host, file(spec), observed.file);
    for (const [i, n] of names(spec).entries()) {
      const want = normal(spec.settings[n]);
      if (observed.live[i] !== want) await ctx.kernel.writeSysctl(n, want + '\n');
    }
  },
  watchPaths: (spec) => [file(spec).path],
  // Leaving the plan removes the boot-time file; live values stay until the next boot.
  removal: (spec, kept) => (kept(`file:${file(spec).path}`) ? undefined : removeFiles([file(spec)])),
};
