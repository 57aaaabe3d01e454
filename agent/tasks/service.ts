import { ServiceEnablement, ServiceRunState, type ServiceSpec } from '../../proto/gen/muster/agent/v1/system.js';
import { AgentError } from '../errors.js';
import { systemctl } from './system-commands.js';
import { runSystem } from './system-run.js';
import type { Change, Problem, Task, TaskContext } from './task.js';

// systemd escapes other bytes as \xNN, so a backslash is a legal unit name character.
const UNIT = /^[a-zA-Z0-9:_.@\\-]{1,200}$/;
const SUFFIX = /\.(service|socket|timer|target|mount|path|slice)$/;
const NOT_BOOTED = 'systemd is not PID 1 here, so the unit was enabled or disabled on disk only; it starts or stops at the next boot';

export interface Observed {
  // systemctl is-enabled: enabled, disabled, static, masked, ...; "not-found" without a unit file
  enablement: string;
  // the live half, when systemd runs as PID 1 on this root
  live?: { loadState: string; activeState: string; needDaemonReload: boolean };
}

export const unitName = (name: string) => (SUFFIX.test(name) ? name : `${name}.service`);

// Enabled is met by a unit that is pulled in some other way too (static, generated, alias).
const ENABLED = new Set(['enabled', 'enabled-runtime', 'static', 'generated', 'alias', 'indirect']);
const ACTIVE = new Set(['active', 'activating', 'reloading']);

// systemctl show -p ...: "Key=value" lines, in systemd's own order.
export function parseShow(text: string): Observed['live'] {
  const v = Object.fromEntries(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  return { loadState: v.LoadState ?? '', activeState: v.ActiveState ?? '', needDaemonReload: v.NeedDaemonReload === 'yes' };
}

async function observeService(spec: ServiceSpec, ctx: TaskContext): Promise<Observed> {
  const unit = unitName(spec.name);
  const r = await runSystem(ctx, systemctl.isEnabled(ctx.host.root, unit), { allowFailure: true });
  const enablement = r.stdout.trim() || (/No such file|not found/i.test(r.stderr) ? 'not-found' : `unknown (${r.stderr.trim()})`);
  // The live half is this machine's: a host under another root has only its unit files.
  if (ctx.host.root !== '/' || !(await ctx.kernel.systemdBooted())) {
    if (spec.state !== ServiceRunState.SERVICE_RUN_STATE_UNSPECIFIED) ctx.warn?.(NOT_BOOTED);
    return { enablement };
  }
  return { enablement, live: parseShow((await runSystem(ctx, systemctl.show(unit))).stdout) };
}

export const serviceTask: Task<ServiceSpec, Observed> = {
  kind: 'service',
  keys: (spec) => [`service:${unitName(spec.name)}`],
  validate(spec) {
    const problems: Problem[] = [];
    if (!UNIT.test(spec.name) || spec.name.startsWith('-')) problems.push({ code: 'INVALID_SPEC', message: `service: name ${JSON.stringify(spec.name)} is not a systemd unit name` });
    if (spec.enablement === ServiceEnablement.SERVICE_ENABLEMENT_UNSPECIFIED && spec.state === ServiceRunState.SERVICE_RUN_STATE_UNSPECIFIED) {
      problems.push({ code: 'INVALID_SPEC', message: `service ${spec.name}: say enablement, state or both` });
    }
    return problems;
  },
  observe: observeService,
  diff(spec, o) {
    const unit = unitName(spec.name);
    const changes: Change[] = [];
    if (o.enablement === 'not-found' || o.live?.loadState === 'not-found') return [{ header: `${unit}`, before: '(no such unit)', after: 'a unit file' }];
    const wantEnabled = spec.enablement === ServiceEnablement.SERVICE_ENABLEMENT_ENABLED;
    if (spec.enablement !== ServiceEnablement.SERVICE_ENABLEMENT_UNSPECIFIED && ENABLED.has(o.enablement) !== wantEnabled) {
      changes.push({ header: `${unit} (at boot)`, before: o.enablement, after: wantEnabled ? 'enabled' : 'disabled' });
    }
    if (!o.live) return changes;
    if (o.live.needDaemonReload) changes.push({ header: `${unit} (unit file changed on disk)`, before: 'not reloaded', after: 'systemctl daemon-reload' });
    const wantActive = spec.state === ServiceRunState.SERVICE_RUN_STATE_STARTED;
    if (spec.state !== ServiceRunState.SERVICE_RUN_STATE_UNSPECIFIED && ACTIVE.has(o.live.activeState) !== wantActive) {
      changes.push({ header: `${unit} (now)`, before: o.live.activeState, after: wantActive ? 'active' : 'inactive' });
    }
    return changes;
  },
  async apply(spec, o, ctx) {
    const unit = unitName(spec.name);
    if (o.enablement === 'not-found' || o.live?.loadState === 'not-found') throw new AgentError('SERVICE_NOT_FOUND', `service: systemd has no unit ${unit} on this host`);
    if (o.live?.needDaemonReload) await runSystem(ctx, systemctl.daemonReload());
    const root = ctx.host.root;
    if (spec.enablement === ServiceEnablement.SERVICE_ENABLEMENT_ENABLED && !ENABLED.has(o.enablement)) await runSystem(ctx, systemctl.enable(root, unit));
    if (spec.enablement === ServiceEnablement.SERVICE_ENABLEMENT_DISABLED && ENABLED.has(o.enablement)) await runSystem(ctx, systemctl.disable(root, unit));
    if (!o.live) return;
    const active = ACTIVE.has(o.live.activeState);
    if (spec.state === ServiceRunState.SERVICE_RUN_STATE_STARTED && !active) await runSystem(ctx, systemctl.start(unit), { timeoutMs: 120_000 });
    if (spec.state === ServiceRunState.SERVICE_RUN_STATE_STOPPED && active) await runSystem(ctx, systemctl.stop(unit), { timeoutMs: 120_000 });
  },
  // A service that leaves the plan is stopped and disabled before its files go.
  removal: (spec, kept) =>
    kept(`service:${unitName(spec.name)}`)
      ? undefined
      : { task: serviceGone as Task<unknown, unknown>, spec: { name: spec.name, enablement: ServiceEnablement.SERVICE_ENABLEMENT_DISABLED, state: ServiceRunState.SERVICE_RUN_STATE_STOPPED } },
};

// Taking a service away: a unit already gone (its package removed) is as good as stopped.
const serviceGone: Task<ServiceSpec, Observed> = {
  ...serviceTask,
  diff: (spec, o) => (o.enablement === 'not-found' ? [] : serviceTask.diff(spec, o)),
  removal: undefined,
};
