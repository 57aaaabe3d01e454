import type { Kernel } from '../../host/kernel.js';
import { AgentError } from '../../errors.js';
import type { TaskContext } from '../task.js';
import { blkidCmd, mkfsCmd, mountCmd } from './commands.js';
import type { Mount, Observed } from './driver.js';
import type { MountEntry } from '../../host/mountinfo.js';
import { isUserspaceOnly } from './options.js';
import { runArgv, tail } from './run.js';

// What blkid found on a device: TYPE (ext4, xfs, LVM2_member...), PTTYPE (gpt, dos), USAGE.
export type Signature = Record<string, string>;

// `blkid -p` probes the device itself, not the cache: exit 2 means no signature of any kind.
export async function probe(ctx: TaskContext, device: string): Promise<Signature | null> {
  const r = await runArgv(ctx, blkidCmd(device), { allowFailure: true });
  if (r.code === 2) return null;
  // 8: ambivalent result (two signatures) — data all the same
  if (r.code === 8) return { TYPE: '(ambivalent: more than one signature)' };
  if (r.code !== 0) throw new AgentError('DEVICE_NOT_FOUND', `blkid -p ${device}: exit ${r.code}: ${tail(r)}`);
  const sig: Signature = {};
  for (const line of r.stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) sig[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return sig;
}

export function describeSignature(sig: Signature): string {
  if (sig.TYPE) return `a ${sig.TYPE} ${sig.USAGE === 'filesystem' || !sig.USAGE ? 'filesystem' : sig.USAGE}`;
  if (sig.PTTYPE) return `a ${sig.PTTYPE} partition table`;
  return `data (${Object.entries(sig).map(([k, v]) => `${k}=${v}`).join(' ')})`;
}

// The device must hold the spec's filesystem. An empty device is formatted only when the spec
// asks; anything else on it (another filesystem, a partition table, LVM, RAID) is never touched.
export async function ensureFilesystem(m: Mount, ctx: TaskContext, device: string): Promise<void> {
  const sig = await probe(ctx, device);
  if (sig?.TYPE === m.fsType) return;
  if (sig) {
    throw new AgentError('DEVICE_HAS_DATA', `${device} holds ${describeSignature(sig)}, not an empty device nor ${m.fsType}; muster never formats a device with data, and left it as it was`);
  }
  if (!m.spec.mkfs) throw new AgentError('DEVICE_UNFORMATTED', `${device} holds no filesystem; set mkfs to format it as ${m.fsType}`);
  ctx.log.info({ device, fsType: m.fsType }, 'mount: formatting an empty device');
  await runArgv(ctx, mkfsCmd(m.fsType, m.spec.mkfsOptions, device), { timeoutMs: 30 * 60_000 });
}

// Devices appear asynchronously after a login or a map (udev links): poll until the deadline.
export async function waitForDevice(kernel: Kernel, device: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const real = await kernel.realpath(device);
    if (real) return real;
    if (Date.now() >= deadline) throw new AgentError('DEVICE_NOT_FOUND', `${device} did not appear within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Device types match on the real device: the kernel shows /dev/loop3 for a by-path link.
export function deviceMatches(_m: Mount, _live: MountEntry, observed: Pick<Observed, 'liveDevice' | 'device'>): boolean {
  return observed.device !== null && observed.liveDevice === observed.device;
}

export async function mountDevice(m: Mount, ctx: TaskContext, realTarget: string, device: string | null): Promise<void> {
  if (!device) throw new AgentError('DEVICE_NOT_FOUND', `no device to mount on ${m.target}`);
  await runArgv(ctx, mountCmd(m.fsType, m.driver.mountOptions(m).filter((o) => !isUserspaceOnly(o)), device, realTarget), { timeoutMs: 120_000 });
}
