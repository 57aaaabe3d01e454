import type { Host } from '../../host/host.js';
import type { TaskContext } from '../task.js';
import { daemonReloadCmd } from './commands.js';
import type { BootEntry, Mount } from './driver.js';
import type { Item } from './host-items.js';
import { escapeField, unescapeField } from '../../host/mountinfo.js';
import { mountUnitName } from './unit-name.js';
import { runArgv } from './run.js';

export const FSTAB = '/etc/fstab';
export const UNIT_DIR = '/etc/systemd/system';

export function unitPath(target: string): string {
  return `${UNIT_DIR}/${mountUnitName(target)}`;
}

// The boot entry with the options boot needs: _netdev orders network mounts after the network,
// and noauto keeps an "unmounted" mount from coming back at boot.
function bootOptions(m: Mount, entry: BootEntry): string[] {
  const options = [...entry.options];
  if (m.driver.network && !options.includes('_netdev')) options.push('_netdev');
  if (m.state === 'unmounted' && !options.includes('noauto')) options.push('noauto');
  return options;
}

// systemd expands %-specifiers in What=, Where= and Options=; a literal % is written %%.
const unitValue = (v: string) => v.replace(/%/g, '%%');

export function renderUnit(m: Mount, entry: BootEntry): string {
  const lines = [
    '# Managed by muster (mount task); edits here are put back on the next apply.',
    '[Unit]',
    `Description=${unitValue(`${m.driver.describeSource(m)} on ${m.target}`)}`,
    '',
    '[Mount]',
    `What=${unitValue(entry.what)}`,
    `Where=${unitValue(m.target)}`,
    `Type=${entry.type}`,
  ];
  const options = bootOptions(m, entry).filter((o) => o !== 'noauto');
  if (options.length) lines.push(`Options=${unitValue(options.join(','))}`);
  lines.push('', '[Install]', `WantedBy=${wantedBy(m)}`, '');
  return lines.join('\n');
}

export function fstabLine(m: Mount, entry: BootEntry): string {
  const options = bootOptions(m, entry);
  // fsck at boot for local block filesystems only (pass 2); never for network ones.
  const pass = m.driver.blockDevice && !m.driver.network ? 2 : 0;
  return [escapeField(entry.what), escapeField(m.target), entry.type, options.length ? options.join(',') : 'defaults', '0', String(pass)].join('\t');
}

// The mount point of an fstab line (second field); comments and blank lines have none.
export function fstabKey(line: string): string | undefined {
  const t = line.trim();
  if (!t || t.startsWith('#')) return undefined;
  const fields = t.split(/\s+/);
  return fields.length >= 2 ? unescapeField(fields[1]) : undefined;
}

function wantedBy(m: Mount): string {
  return m.driver.network ? 'remote-fs.target' : 'local-fs.target';
}

// The persistence paths the host can resolve: a node whose policy leaves out /etc/fstab (or
// /etc/systemd/system) can still use the other way; a spec that needs a refused path fails on it.
export async function usablePaths(m: Mount, host: Host): Promise<Set<string>> {
  const usable = new Set<string>();
  for (const p of [FSTAB, unitPath(m.target)]) {
    if (await host.resolve(p).then(() => true, () => false)) usable.add(p);
  }
  return usable;
}

// The unit file, its enable link and the fstab line: exactly one way is wanted (or none), the
// others are wanted absent so that switching persistence cleans up after itself.
export function persistenceItems(m: Mount, usable: Set<string>): Item[] {
  const entry = m.state === 'absent' || m.persistence === 'none' ? null : m.driver.bootEntry(m);
  const boot = typeof entry === 'string' ? null : entry;
  const unit = unitPath(m.target);
  const wantUnit = boot !== null && m.persistence === 'systemd';
  const wantLine = boot !== null && m.persistence === 'fstab';
  const items: Item[] = [
    { kind: 'file', path: unit, secret: false, want: wantUnit ? { path: unit, content: Buffer.from(renderUnit(m, boot)), mode: 0o644 } : null },
  ];
  for (const target of ['remote-fs.target', 'local-fs.target']) {
    const wanted = wantUnit && m.state === 'mounted' && target === wantedBy(m);
    items.push({ kind: 'link', path: `${UNIT_DIR}/${target}.wants/${mountUnitName(m.target)}`, want: wanted ? unit : null });
  }
  if (wantLine || usable.has(FSTAB)) {
    items.push({ kind: 'line', path: FSTAB, key: m.target, keyOf: fstabKey, want: wantLine ? fstabLine(m, boot) : null });
  }
  return items.filter((i) => i.want !== null || usable.has(unitPath(m.target)));
}

// systemd reads unit files at daemon-reload; without systemd as PID 1 (containers, this test
// machine) or on a host under another root, the unit takes effect at the next boot.
export async function reloadSystemd(ctx: TaskContext): Promise<void> {
  const booted = await ctx.kernel.systemdBooted();
  if (booted && ctx.host.root === '/') {
    await runArgv(ctx, daemonReloadCmd());
    return;
  }
  ctx.warn?.(booted ? 'the host root is not /, so systemctl daemon-reload was skipped' : 'systemd is not PID 1 here, so systemctl daemon-reload was skipped; the unit takes effect at the next boot');
}
