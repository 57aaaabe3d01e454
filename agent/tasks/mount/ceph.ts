import path from 'node:path';
import { CephFsClient, CephRbdMapper, type CephFsSource, type CephRbdSource } from '../../../proto/gen/muster/agent/v1/mount.js';
import { AgentError } from '../../errors.js';
import type { TaskContext } from '../task.js';
import { cephFuse, losetupCmd, losetupDetachCmd, mountCmd, rbd, umountCmd, type CephClient } from './commands.js';
import { deviceMatches, mountDevice } from './device.js';
import type { Kernel } from '../../host/kernel.js';
import { attachment, type Attachment, type Driver, type Mount } from './driver.js';
import type { Item } from './host-items.js';
import { topMount } from '../../host/mountinfo.js';
import { requireReachable, splitHostPort } from './network.js';
import { isUserspaceOnly } from './options.js';
import { isMissingProgram, runArgv, tail } from './run.js';

type CephSource = { monitors: string[]; user: string; key: string };
const user = (s: CephSource) => s.user || 'admin';

// Per-mount client files under /etc/ceph, named after the target so two mounts never share one.
export function cephPaths(target: string): { conf: string; keyring: string; secret: string } {
  const base = `/etc/ceph/muster${target.replace(/[^A-Za-z0-9._-]/g, '_')}`;
  return { conf: `${base}.conf`, keyring: `${base}.keyring`, secret: `${base}.secret` };
}

export function cephConf(s: CephSource): string {
  return [
    '# Managed by muster (mount task): the monitors this mount talks to.',
    '[global]',
    `mon_host = ${s.monitors.join(',')}`,
    '[client]',
    // one admin socket per process: a FUSE client and a CLI run as the same user must not share one
    'admin_socket = /var/run/ceph/$cluster-$name.$pid.$cctid.asok',
    '',
  ].join('\n');
}

export function cephKeyring(s: CephSource): string {
  return `[client.${user(s)}]\n\tkey = ${s.key}\n`;
}

function fileItem(m: Mount, p: string, content: string, secret: boolean): Item {
  const want = m.state === 'absent' ? null : { path: p, content: Buffer.from(content), mode: secret ? 0o600 : 0o644, secret };
  return { kind: 'file', path: p, want, secret };
}

const confItems = (m: Mount, s: CephSource): Item[] => [
  fileItem(m, cephPaths(m.target).conf, cephConf(s), false),
  fileItem(m, cephPaths(m.target).keyring, cephKeyring(s), true),
];

// The client's arguments, with the files at their real paths under the host root.
async function client(m: Mount, s: CephSource, ctx: TaskContext): Promise<CephClient> {
  const p = cephPaths(m.target);
  return { user: user(s), keyring: await ctx.host.resolve(p.keyring), conf: await ctx.host.resolve(p.conf) };
}

function validateCeph(s: CephSource, prefix: string): string[] {
  const problems: string[] = [];
  if (s.monitors.length === 0) problems.push(`${prefix}.monitors needs at least one monitor`);
  for (const mon of s.monitors) if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(mon)) problems.push(`${prefix}.monitors: ${JSON.stringify(mon)} is not host[:port]`);
  if (s.user && !/^[A-Za-z0-9._-]+$/.test(s.user)) problems.push(`${prefix}.user ${JSON.stringify(s.user)} is not a cephx id (without "client.")`);
  if (!/^[A-Za-z0-9+/]{16,}={0,2}$/.test(s.key)) problems.push(`${prefix}.key is not a cephx key (base64)`);
  return problems;
}

// Monitors without a port answer on 6789 (v1) or 3300 (v2).
async function monitorsAnswer(s: CephSource, what: string): Promise<void> {
  const addresses = s.monitors.flatMap((mon) => {
    const explicit = /:\d+$/.test(mon) && !/^[0-9a-fA-F:]+$/.test(mon);
    const { host, port } = splitHostPort(mon, 6789);
    return explicit ? [{ host, port }] : [{ host, port: 6789 }, { host, port: 3300 }];
  });
  await requireReachable(what, addresses);
}

// ---- RBD ----

const rbdSrc = (m: Mount): CephRbdSource => m.spec.cephRbd!;
const mapper = (m: Mount) => rbdSrc(m).mapper || CephRbdMapper.CEPH_RBD_MAPPER_KRBD;

interface Mapped {
  device: string | null;
}

// `rbd showmapped` and `rbd-nbd list-mapped` list mappings as JSON; the image field is "name"
// in one and "image" in the other.
export function findMapping(json: string, pool: string, image: string): string | null {
  const list = JSON.parse(json || '[]') as { pool?: string; name?: string; image?: string; snap?: string; device?: string }[];
  const hit = list.find((x) => x.pool === pool && (x.name ?? x.image) === image && (x.snap === undefined || x.snap === '-'));
  return hit?.device ?? null;
}

// krbd and nbd differ only in their commands: one attachment for both.
function mappedAttachment(list: () => string[], map: typeof rbd.map, unmap: (d: string) => string[]): Attachment<Mapped> {
  return {
    async observe(m, ctx) {
      // Without the mapper installed nothing can be mapped: absent holds, up() says what is missing.
      const r = await runArgv(ctx, list()).catch((err: unknown) => {
        if (isMissingProgram(err)) return null;
        throw err;
      });
      return { device: r ? findMapping(r.stdout, rbdSrc(m).pool, rbdSrc(m).image) : null };
    },
    diff(m, st, want) {
      const header = `rbd mapping ${rbdSrc(m).pool}/${rbdSrc(m).image}`;
      if (want && !st.device) return [{ header, before: '(not mapped)', after: 'mapped' }];
      if (!want && st.device) return [{ header, before: st.device, after: '(unmapped)' }];
      return [];
    },
    async up(m, st, ctx) {
      if (!st.device) await runArgv(ctx, map(rbdSrc(m).pool, rbdSrc(m).image, await client(m, rbdSrc(m), ctx)), { timeoutMs: 120_000 });
    },
    async down(_m, st, ctx) {
      if (st.device) await runArgv(ctx, unmap(st.device), { timeoutMs: 60_000 });
    },
    device: (_m, st) => st.device,
  };
}

// rbd-fuse exposes the image as a file in a folder beside the target; a loop device over that
// file is the block device (the userspace route where the kernel has no rbd driver).
export function fuseDir(target: string): string {
  return path.posix.join(path.posix.dirname(target), `.rbd-fuse-${path.posix.basename(target)}`);
}

interface FuseMapped {
  mounted: boolean;
  loop: string | null;
}

async function loopOver(kernel: Kernel, file: string): Promise<string | null> {
  return (await kernel.loopDevices()).find((l) => l.backingFile === file)?.device ?? null;
}

const fuseAttachment: Attachment<FuseMapped> = {
  async observe(m, ctx) {
    const dir = await ctx.host.resolve(fuseDir(m.target));
    const live = topMount(await ctx.kernel.mountTable(), dir);
    return { mounted: live?.fsType === 'fuse.rbd-fuse', loop: await loopOver(ctx.kernel, path.join(dir, rbdSrc(m).image)) };
  },
  diff(m, st, want) {
    const s = rbdSrc(m);
    const changes = [];
    if (want !== st.mounted) changes.push({ header: `rbd-fuse ${s.pool}/${s.image} on ${fuseDir(m.target)}`, before: st.mounted ? 'mounted' : '(not mounted)', after: want ? 'mounted' : '(not mounted)' });
    if (want !== (st.loop !== null)) changes.push({ header: `loop device over ${fuseDir(m.target)}/${s.image}`, before: st.loop ?? '(none)', after: want ? 'attached' : '(detached)' });
    return changes;
  },
  async up(m, st, ctx) {
    const s = rbdSrc(m);
    await ctx.host.mkdir(fuseDir(m.target));
    const dir = await ctx.host.resolve(fuseDir(m.target));
    if (!st.mounted) await runArgv(ctx, rbd.fuse(s.pool, s.image, await client(m, s, ctx), dir), { timeoutMs: 60_000 });
    const file = path.join(dir, s.image);
    const deadline = Date.now() + m.deviceTimeoutMs;
    while (!(await ctx.kernel.realpath(file))) {
      if (Date.now() > deadline) throw new AgentError('DEVICE_NOT_FOUND', `rbd-fuse did not expose ${s.pool}/${s.image} within ${m.deviceTimeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!st.loop) await runArgv(ctx, losetupCmd(file));
  },
  async down(m, st, ctx) {
    const dir = await ctx.host.resolve(fuseDir(m.target));
    if (st.loop) await runArgv(ctx, losetupDetachCmd(st.loop));
    if (st.mounted) await runArgv(ctx, umountCmd(dir));
    await ctx.host.rmdir(fuseDir(m.target)).catch(() => undefined);
  },
  device: (_m, st) => st.loop,
};

const rbdAttachments = {
  [CephRbdMapper.CEPH_RBD_MAPPER_KRBD]: attachment(mappedAttachment(rbd.showmapped, rbd.map, rbd.unmap)),
  [CephRbdMapper.CEPH_RBD_MAPPER_NBD]: attachment(mappedAttachment(rbd.nbdList, rbd.nbdMap, rbd.nbdUnmap)),
  [CephRbdMapper.CEPH_RBD_MAPPER_FUSE]: attachment(fuseAttachment),
} as Record<number, Attachment<unknown>>;

// The attachment picks the mapper per spec: one driver object, three ways to map.
const rbdAttachment: Attachment<unknown> = {
  observe: (m, ctx) => rbdAttachments[mapper(m)].observe(m, ctx),
  diff: (m, st, want) => rbdAttachments[mapper(m)].diff(m, st, want),
  up: (m, st, ctx) => rbdAttachments[mapper(m)].up(m, st, ctx),
  down: (m, st, ctx) => rbdAttachments[mapper(m)].down(m, st, ctx),
  device: (m, st) => rbdAttachments[mapper(m)].device(m, st),
};

const RBDMAP = '/etc/ceph/rbdmap';
const rbdmapKey = (line: string) => (line.trim() && !line.trim().startsWith('#') ? line.trim().split(/\s+/)[0] : undefined);

export const cephRbdDriver: Driver = {
  type: 'cephRbd',
  network: true,
  fsOptionsVisible: () => true,
  blockDevice: true,
  validate(m) {
    const s = rbdSrc(m);
    const problems = validateCeph(s, 'cephRbd');
    for (const [name, v] of [['pool', s.pool], ['image', s.image]]) if (!/^[A-Za-z0-9._-]+$/.test(v)) problems.push(`cephRbd.${name} ${JSON.stringify(v)} is not a name`);
    if (!(mapper(m) in rbdAttachments)) problems.push(`cephRbd.mapper ${mapper(m)} is not krbd, nbd or fuse`);
    return problems;
  },
  secrets: (m) => [rbdSrc(m).key],
  items(m) {
    const items = confItems(m, rbdSrc(m));
    // krbd maps again at boot through rbdmap.service, which reads /etc/ceph/rbdmap.
    if (mapper(m) === CephRbdMapper.CEPH_RBD_MAPPER_KRBD && m.persistence !== 'none') {
      const s = rbdSrc(m);
      const p = cephPaths(m.target);
      const want = m.state === 'absent' ? null : `${s.pool}/${s.image}\tid=${user(s)},keyring=${p.keyring},conf=${p.conf}`;
      items.push({ kind: 'line', path: RBDMAP, key: `${s.pool}/${s.image}`, keyOf: rbdmapKey, want });
      if (want) items.push({ kind: 'link', path: '/etc/systemd/system/multi-user.target.wants/rbdmap.service', want: '/lib/systemd/system/rbdmap.service' });
    }
    return items;
  },
  liveFsType: (m) => m.fsType,
  mountOptions: (m) => m.options,
  describeSource: (m) => `rbd ${rbdSrc(m).pool}/${rbdSrc(m).image}`,
  bootEntry(m) {
    if (mapper(m) !== CephRbdMapper.CEPH_RBD_MAPPER_KRBD) {
      return 'only the krbd mapper maps at boot (rbdmap.service); with nbd or fuse use persistence none and let the next apply map and mount again';
    }
    // udev names a krbd device /dev/rbd/<pool>/<image>; rbdmap.service runs before remote-fs-pre.target.
    return { what: `/dev/rbd/${rbdSrc(m).pool}/${rbdSrc(m).image}`, type: m.fsType, options: m.options };
  },
  attachment: rbdAttachment,
  sourceMatches: deviceMatches,
  // `rbd info` as the mount's own client proves the image exists and the client may open it: a
  // client without "profile rbd" caps would otherwise leave rbd-fuse blocking every read forever.
  async preflight(m, ctx) {
    const s = rbdSrc(m);
    await monitorsAnswer(s, `Ceph monitors of ${s.pool}/${s.image}`);
    const r = await runArgv(ctx, rbd.info(s.pool, s.image, await client(m, s, ctx)), { allowFailure: true, timeoutMs: 60_000, secrets: [s.key] });
    if (r.code === 0) return;
    if (/No such file or directory/.test(r.stderr)) throw new AgentError('EXPORT_NOT_FOUND', `rbd image ${s.pool}/${s.image} does not exist (rbd info as client.${user(s)}: ${tail(r, [s.key])})`);
    throw new AgentError('EXEC_FAILED', `rbd info ${s.pool}/${s.image} as client.${user(s)}: exit ${r.code}: ${tail(r, [s.key])}`);
  },
  mount: mountDevice,
};

// ---- CephFS ----

const fsSrc = (m: Mount): CephFsSource => m.spec.cephfs!;
const fsPath = (m: Mount) => fsSrc(m).path || '/';
const viaFuse = (m: Mount) => fsSrc(m).client === CephFsClient.CEPH_FS_CLIENT_FUSE;

function kernelOptions(m: Mount, secretfile: string): string[] {
  return [`name=${user(fsSrc(m))}`, `secretfile=${secretfile}`, ...m.options];
}

function fuseBootOptions(m: Mount): string[] {
  const p = cephPaths(m.target);
  return [`ceph.id=${user(fsSrc(m))}`, `ceph.conf=${p.conf}`, `ceph.keyring=${p.keyring}`, `ceph.client_mountpoint=${fsPath(m)}`, ...m.options];
}

export const cephfsDriver: Driver = {
  type: 'cephfs',
  network: true,
  // ceph-fuse consumes its options; the kernel client shows name= and its own.
  fsOptionsVisible: (m) => !viaFuse(m),
  blockDevice: false,
  validate(m) {
    const s = fsSrc(m);
    const problems = validateCeph(s, 'cephfs');
    if (s.path && (!s.path.startsWith('/') || /[\s,]/.test(s.path))) problems.push(`cephfs.path ${JSON.stringify(s.path)} is not an absolute path without spaces or commas`);
    if (![CephFsClient.CEPH_FS_CLIENT_UNSPECIFIED, CephFsClient.CEPH_FS_CLIENT_KERNEL, CephFsClient.CEPH_FS_CLIENT_FUSE].includes(s.client)) problems.push(`cephfs.client ${s.client} is not kernel or fuse`);
    return problems;
  },
  secrets: (m) => [fsSrc(m).key],
  items: (m) => (viaFuse(m) ? confItems(m, fsSrc(m)) : [fileItem(m, cephPaths(m.target).secret, `${fsSrc(m).key}\n`, true)]),
  liveFsType: (m) => (viaFuse(m) ? 'fuse.ceph-fuse' : 'ceph'),
  mountOptions: (m) => (viaFuse(m) ? m.options : kernelOptions(m, cephPaths(m.target).secret)),
  describeSource: (m) => `cephfs ${fsPath(m)} (${viaFuse(m) ? 'ceph-fuse' : 'kernel'})`,
  bootEntry: (m) =>
    viaFuse(m)
      ? { what: 'none', type: 'fuse.ceph', options: fuseBootOptions(m) }
      : { what: `${fsSrc(m).monitors.join(',')}:${fsPath(m)}`, type: 'ceph', options: kernelOptions(m, cephPaths(m.target).secret) },
  // mount.ceph rewrites the monitor list (names resolved, ports added) and ceph-fuse shows only
  // its own name: what can be compared is the path, and that it is ceph-fuse.
  sourceMatches: (m, live) => (viaFuse(m) ? live.source === 'ceph-fuse' : live.source.endsWith(`:${fsPath(m)}`)),
  preflight: (m) => monitorsAnswer(fsSrc(m), `Ceph monitors of CephFS ${fsPath(m)}`),
  async mount(m, ctx, realTarget) {
    const options = m.options.filter((o) => !isUserspaceOnly(o));
    if (viaFuse(m)) {
      await runArgv(ctx, cephFuse(await client(m, fsSrc(m), ctx), fsPath(m), options, realTarget), { timeoutMs: 120_000, secrets: [fsSrc(m).key] });
      return;
    }
    const secretfile = await ctx.host.resolve(cephPaths(m.target).secret);
    const source = `${fsSrc(m).monitors.join(',')}:${fsPath(m)}`;
    await runArgv(ctx, mountCmd('ceph', kernelOptions(m, secretfile).filter((o) => !isUserspaceOnly(o) || o.startsWith('secretfile=')), source, realTarget), { timeoutMs: 120_000 });
  },
};
