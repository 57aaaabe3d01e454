import { PackageState, type PackageSpec } from '../../proto/gen/muster/agent/v1/system.js';
import { AgentError } from '../errors.js';
import { APT_ENV, apt, dpkg } from './system-commands.js';
import { runSystem } from './system-run.js';
import type { Change, Problem, Task, TaskContext } from './task.js';

// Debian policy: package names are lower case letters, digits, + - . and start alphanumerically.
const NAME = /^[a-z0-9][a-z0-9+.-]{1,99}$/;
const VERSION = /^[0-9A-Za-z.+~:-]{1,100}$/;
const APT_TIMEOUT_MS = 15 * 60_000;

export interface Observed {
  installed: boolean;
  version: string;
  held: boolean;
}

// dpkg-query -f '${Status}\t${Version}': "install ok installed\t1.0-1"; unknown packages exit 1.
export function parseQuery(code: number, stdout: string): Observed {
  const [status = '', version = ''] = stdout.trim().split('\t');
  const [want = '', , state = ''] = status.split(' ');
  if (code !== 0) return { installed: false, version: '', held: false };
  return { installed: state === 'installed', version: state === 'installed' ? version : '', held: want === 'hold' };
}

// apt-cache policy: every version apt can install shows at the start of a line in the table.
export function knownVersions(policy: string): { candidate: string; versions: string[] } {
  const candidate = /^\s*Candidate:\s*(\S+)/m.exec(policy)?.[1] ?? '(none)';
  const table = policy.split(/^\s*Version table:\s*$/m)[1] ?? '';
  const versions = [...table.matchAll(/^\s*(?:\*\*\*\s+)?(\S+)\s+-?\d+\s*$/gm)].map((m) => m[1]);
  return { candidate, versions };
}

const present = (spec: PackageSpec) => spec.state !== PackageState.PACKAGE_STATE_ABSENT;

async function refuseOtherRoot(ctx: TaskContext, spec: PackageSpec): Promise<void> {
  // apt and dpkg act on the system they run on: a simulated or image root cannot be served honestly.
  if (ctx.host.root !== '/') throw new AgentError('PACKAGE_ROOT_UNSUPPORTED', `package ${spec.name}: the agent's root is ${ctx.host.root}, and apt and dpkg only manage the real root /`);
}

// The versions apt can install, and whether the wanted one (or any, with no pin) is among them.
async function aptKnows(ctx: TaskContext, spec: PackageSpec): Promise<{ ok: boolean; versions: string[] }> {
  const r = await runSystem(ctx, apt.policy(spec.name), { allowFailure: true, env: APT_ENV });
  const { candidate, versions } = knownVersions(r.stdout);
  return { ok: spec.version ? versions.includes(spec.version) : candidate !== '(none)', versions };
}

export const packageTask: Task<PackageSpec, Observed> = {
  kind: 'package',
  keys: (spec) => [`package:${spec.name}`],
  validate(spec) {
    const problems: Problem[] = [];
    const bad = (message: string) => problems.push({ code: 'INVALID_SPEC', message: `package ${spec.name}: ${message}` });
    if (!NAME.test(spec.name)) bad(`name ${JSON.stringify(spec.name)} is not a Debian package name`);
    if (spec.version && !VERSION.test(spec.version)) bad(`version ${JSON.stringify(spec.version)} is not a Debian version`);
    if (!present(spec) && (spec.version || spec.hold)) bad('an absent package takes no version and no hold');
    if (spec.aptSource && !/^\/etc\/apt\/sources\.list\.d\/[^/]+\.(sources|list)$/.test(spec.aptSource)) bad(`apt_source ${spec.aptSource} must be a file in /etc/apt/sources.list.d`);
    return problems;
  },
  async observe(spec, ctx) {
    await refuseOtherRoot(ctx, spec);
    const r = await runSystem(ctx, dpkg.query(spec.name), { allowFailure: true });
    return parseQuery(r.code, r.stdout);
  },
  diff(spec, o) {
    const changes: Change[] = [];
    const name = `package ${spec.name}`;
    if (!present(spec)) return o.installed ? [{ header: name, before: o.version, after: '(absent)' }] : [];
    if (!o.installed) changes.push({ header: name, before: '(absent)', after: spec.version || 'installed' });
    else if (spec.version && o.version !== spec.version) changes.push({ header: name, before: o.version, after: spec.version });
    if (o.held !== spec.hold) changes.push({ header: `${name} (apt-mark)`, before: o.held ? 'hold' : 'unhold', after: spec.hold ? 'hold' : 'unhold' });
    return changes;
  },
  async apply(spec, o, ctx) {
    await refuseOtherRoot(ctx, spec);
    const opts = { env: APT_ENV, timeoutMs: APT_TIMEOUT_MS };
    if (!present(spec)) {
      if (o.held) await runSystem(ctx, apt.mark(spec.name, false), opts);
      await runSystem(ctx, apt.remove(spec.name), opts);
      return;
    }
    const install = !o.installed || (spec.version !== '' && o.version !== spec.version);
    if (install) {
      if (!(await aptKnows(ctx, spec)).ok) {
        await runSystem(ctx, apt.update(spec.aptSource || undefined), opts);
        const known = await aptKnows(ctx, spec);
        if (!known.ok) {
          const has = known.versions.length ? `it knows ${known.versions.join(', ')}` : 'it knows no version';
          throw new AgentError('PACKAGE_NOT_FOUND', `package ${spec.name}${spec.version ? `=${spec.version}` : ''}: apt has no such package or version (${has}), even after apt-get update${spec.aptSource ? ` of ${spec.aptSource}` : ''}`);
        }
      }
      await runSystem(ctx, apt.install(spec.name, spec.version), opts);
    }
    if (o.held !== spec.hold || install) await runSystem(ctx, apt.mark(spec.name, spec.hold), opts);
  },
  // Only what muster installed leaves with the plan: a package the last plan had as present.
  removal: (spec, kept) =>
    kept(`package:${spec.name}`) || !present(spec)
      ? undefined
      : { task: packageTask as Task<unknown, unknown>, spec: { name: spec.name, version: '', hold: false, state: PackageState.PACKAGE_STATE_ABSENT, aptSource: '' } },
};
