import { MountState, type MountSpec } from '../../../proto/gen/muster/agent/v1/mount.js';
import { AgentError } from '../../errors.js';
import type { Host } from '../../host/host.js';
import type { Change, Task, TaskContext } from '../task.js';
import { umountCmd } from './commands.js';
import { ensureFilesystem, waitForDevice } from './device.js';
import type { Mount, Observed, ObservedItem } from './driver.js';
import { applyItem, diffItem, observeItem } from './host-items.js';
import { describeHolders, kernelHolders, processHolders } from './holders.js';
import { topMount, type MountEntry } from '../../host/mountinfo.js';
import type { Kernel } from '../../host/kernel.js';
import { optionDifferences } from './options.js';
import { FSTAB, persistenceItems, reloadSystemd, UNIT_DIR, unitPath, usablePaths } from './persistence.js';
import { redact, runArgv } from './run.js';
import { resolveMount, targetOf, validateMount } from './spec.js';

// The target's real path under the host root, through the path policy. The kernel shows the
// canonical path in mountinfo, so an existing target is compared by its realpath.
export async function realTargetOf(host: Host, kernel: Kernel, target: string): Promise<string> {
  const real = await host.resolve(target);
  return (await kernel.realpath(real)) ?? real;
}

function describeWanted(m: Mount): string {
  const options = m.driver.mountOptions(m);
  return `${m.driver.describeSource(m)} (${m.driver.liveFsType(m)}${options.length ? `, ${options.join(',')}` : ''})`;
}

function describeLive(e: MountEntry): string {
  return `${e.source} (${e.fsType}, ${[...e.mountOptions, ...e.superOptions].join(',')})`;
}

export function mountMatches(m: Mount, observed: Pick<Observed, 'mount' | 'liveDevice' | 'device'>): boolean {
  const live = observed.mount;
  return live !== null && live.fsType === m.driver.liveFsType(m) && m.driver.sourceMatches(m, live, observed);
}

// The live mount against the spec: what is mounted, and the options the spec names.
function diffMount(m: Mount, o: Observed): Change[] {
  const header = `mount ${m.target}`;
  if (m.state !== 'mounted') return o.mount ? [{ header, before: describeLive(o.mount), after: '(not mounted)' }] : [];
  if (!o.mount) return [{ header, before: '(not mounted)', after: describeWanted(m) }];
  if (!mountMatches(m, o)) return [{ header, before: describeLive(o.mount), after: describeWanted(m) }];
  const diffs = optionDifferences(m.driver.mountOptions(m), o.mount, m.driver.fsOptionsVisible(m));
  if (diffs.length === 0) return [];
  return [{ header: `${header} options`, before: diffs.map((d) => d.live).join(','), after: diffs.map((d) => d.option).join(',') }];
}

async function observe(m: Mount, ctx: TaskContext): Promise<Observed> {
  const realTarget = await realTargetOf(ctx.host, ctx.kernel, m.target);
  const live = topMount(await ctx.kernel.mountTable(), realTarget) ?? null;
  const attach = m.driver.attachment ? await m.driver.attachment.observe(m, ctx) : null;
  const devicePath = m.driver.attachment ? m.driver.attachment.device(m, attach) : (m.driver.knownDevice?.(m) ?? null);
  // Credential files first (the commands read them), persistence last (written once the mount is there).
  const items: ObservedItem[] = [];
  for (const item of m.driver.items(m)) items.push({ item, group: 'credentials', state: await observeItem(ctx.host, item) });
  for (const item of persistenceItems(m, await usablePaths(m, ctx.host))) items.push({ item, group: 'persistence', state: await observeItem(ctx.host, item) });
  return {
    realTarget,
    mount: live,
    liveDevice: live?.source.startsWith('/') ? await ctx.kernel.realpath(live.source) : null,
    attach,
    device: devicePath ? await ctx.kernel.realpath(devicePath) : null,
    items,
  };
}

function diff(m: Mount, o: Observed): Change[] {
  const changes = diffMount(m, o);
  if (m.driver.attachment) changes.push(...m.driver.attachment.diff(m, o.attach, m.state !== 'absent'));
  for (const { item, state } of o.items) changes.push(...diffItem(item, state));
  // Secrets never reach a diff, whatever a driver or the host put in a field.
  const secrets = m.driver.secrets(m);
  return changes.map((c) => ({ header: redact(c.header, secrets), before: redact(c.before, secrets), after: redact(c.after, secrets) }));
}

// Never forced (no -l, no -f): a busy target is reported with what holds it, and left mounted.
async function unmount(ctx: TaskContext, target: string, realTarget: string): Promise<void> {
  const holders = await processHolders(realTarget);
  if (holders.length) throw new AgentError('TARGET_BUSY', `${target} is in use, so it was not unmounted: ${describeHolders(holders)}`);
  const r = await runArgv(ctx, umountCmd(realTarget), { allowFailure: true, timeoutMs: 60_000 });
  if (r.code === 0) return;
  const others = [...(await processHolders(realTarget)), ...kernelHolders(realTarget, await ctx.kernel.mountTable(), await ctx.kernel.loopDevices())];
  const said = r.stderr.trim() || r.stdout.trim();
  if (others.length || /busy/i.test(said)) {
    throw new AgentError('TARGET_BUSY', `${target} is in use, so it was not unmounted: ${others.length ? describeHolders(others) : said}`);
  }
  throw new AgentError('EXEC_FAILED', `umount ${target}: exit ${r.code}: ${said}`);
}

// Applies one group of items; true when a unit file, enable link or fstab changed (systemd must reload).
async function applyItems(ctx: TaskContext, o: Observed, group: ObservedItem['group']): Promise<boolean> {
  let changed = false;
  for (const { item, state } of o.items.filter((x) => x.group === group)) {
    if (diffItem(item, state).length === 0) continue;
    if (item.kind === 'line' && item.want && state.kind === 'line' && state.clashes.length) {
      throw new AgentError('PERSISTENCE_CONFLICT', `${item.path} line ${state.clashes.join(', ')} is for ${item.key} too, outside the muster block; remove it by hand or choose another persistence`);
    }
    await applyItem(ctx.host, item, state);
    changed ||= item.path.startsWith(UNIT_DIR + '/') || item.path === FSTAB;
  }
  return changed;
}

async function apply(m: Mount, o: Observed, ctx: TaskContext): Promise<void> {
  const attachment = m.driver.attachment;
  const attachChanges = attachment ? attachment.diff(m, o.attach, m.state !== 'absent') : [];
  const mountChanges = diffMount(m, o);

  if (m.state === 'absent') {
    if (o.mount) await unmount(ctx, m.target, o.realTarget);
    if (attachment && attachChanges.length) await attachment.down(m, o.attach, ctx);
    const reload = await applyItems(ctx, o, 'persistence');
    await applyItems(ctx, o, 'credentials');
    if (reload) await reloadSystemd(ctx);
    return;
  }

  await applyItems(ctx, o, 'credentials');
  const mountNeeded = m.state === 'mounted' && mountChanges.length > 0;
  if (m.driver.preflight && (attachChanges.length || mountNeeded)) await m.driver.preflight(m, ctx);
  let device: string | null = null;
  if (attachment) {
    if (attachChanges.length) await attachment.up(m, o.attach, ctx);
    const path = attachment.device(m, attachChanges.length ? await attachment.observe(m, ctx) : o.attach);
    if (m.driver.blockDevice && mountNeeded) {
      if (!path) throw new AgentError('DEVICE_NOT_FOUND', `${m.driver.describeSource(m)} gave no block device`);
      await waitForDevice(ctx.kernel, path, m.deviceTimeoutMs);
      device = path;
    }
  } else if (m.driver.blockDevice && mountNeeded) {
    device = m.driver.knownDevice!(m);
    await waitForDevice(ctx.kernel, device, m.deviceTimeoutMs);
  }

  if (o.mount && mountChanges.length) await unmount(ctx, m.target, o.realTarget);
  if (mountNeeded) {
    if (device) await ensureFilesystem(m, ctx, device);
    await ctx.host.mkdir(m.target);
    await m.driver.mount(m, ctx, o.realTarget, device);
  }
  // Persistence last: a failed step above leaves the boot entry as it was.
  if (await applyItems(ctx, o, 'persistence')) await reloadSystemd(ctx);
}

// Paths a task manages besides its target: credential files, shared-file lines, the boot entry.
function managedFiles(m: Mount): string[] {
  const paths = m.driver.items(m).filter((i) => i.kind !== 'link').map((i) => i.path);
  if (m.persistence === 'systemd') paths.push(unitPath(m.target));
  if (m.persistence === 'fstab') paths.push(FSTAB);
  return paths;
}

export const mountTask: Task<MountSpec, Observed> = {
  kind: 'mount',
  // The target is a path key: the engine checks it against the path policy before anything runs,
  // and two tasks cannot mount on one target. Whole files are keys too; shared files (fstab) are not.
  keys(spec) {
    const keys = [`file:${targetOf(spec)}`];
    if (validateMount(spec).length) return keys;
    const m = resolveMount(spec);
    for (const i of m.driver.items(m)) if (i.kind === 'file') keys.push(`file:${i.path}`);
    if (m.persistence === 'systemd') keys.push(`file:${unitPath(m.target)}`);
    return keys;
  },
  validate: (spec) => validateMount(spec).map((message) => ({ code: 'INVALID_SPEC' as const, message: `mount ${spec.target || '(no target)'}: ${message}` })),
  observe: (spec, ctx) => observe(resolveMount(spec), ctx),
  diff: (spec, observed) => diff(resolveMount(spec), observed),
  apply: (spec, observed, ctx) => apply(resolveMount(spec), observed, ctx),
  watchPaths: (spec) => managedFiles(resolveMount(spec)),
  // A mount that leaves the plan goes the way state absent goes: unmounted, detached, unpersisted.
  removal: (spec, kept) =>
    kept(`file:${targetOf(spec)}`) || spec.state === MountState.MOUNT_STATE_ABSENT ? undefined : { task: mountTask as Task<unknown, unknown>, spec: { ...spec, state: MountState.MOUNT_STATE_ABSENT } },
};
