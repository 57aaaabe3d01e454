import net from 'node:net';
import path from 'node:path';
import { AgentError } from '../../errors.js';
import type { NfsSource } from '../../../proto/gen/muster/agent/v1/mount.js';
import { mountCmd, nfsLs } from './commands.js';
import type { Driver, Mount } from './driver.js';
import { requireReachable } from './network.js';
import { isUserspaceOnly, keyOf } from './options.js';
import { isMissingProgram, runArgv, tail } from './run.js';

export const NFS_VERSIONS = ['3', '4.0', '4.1', '4.2'];
const src = (m: Mount): NfsSource => m.spec.nfs!;
const version = (m: Mount) => src(m).version || '4.1';

// "server:/export" as mount(8) takes it and the kernel shows it; a v6 address goes in brackets.
export function nfsSource(s: NfsSource): string {
  const host = net.isIPv6(s.server) ? `[${s.server}]` : s.server;
  return `${host}:${path.posix.normalize(s.export).replace(/(.)\/+$/, '$1')}`;
}

// NFS through the kernel client: mount -t nfs4 (or nfs for v3) -o vers=...
export const nfsDriver: Driver = {
  type: 'nfs',
  network: true,
  fsOptionsVisible: () => true,
  blockDevice: false,
  validate(m) {
    const s = src(m);
    const problems: string[] = [];
    if (!s.server || /[\s/]/.test(s.server)) problems.push(`nfs.server ${JSON.stringify(s.server)} is not a host name or address`);
    if (!s.export.startsWith('/')) problems.push(`nfs.export ${JSON.stringify(s.export)} is not an absolute path`);
    if (s.version && !NFS_VERSIONS.includes(s.version)) problems.push(`nfs.version ${JSON.stringify(s.version)} is not one of ${NFS_VERSIONS.join(', ')}`);
    if (m.options.some((o) => ['vers', 'nfsvers'].includes(keyOf(o)))) problems.push('nfs: give the version in nfs.version, not as a mount option');
    return problems;
  },
  secrets: () => [],
  items: () => [],
  // The kernel calls every v4.x mount nfs4.
  liveFsType: (m) => (version(m) === '3' ? 'nfs' : 'nfs4'),
  mountOptions: (m) => [`vers=${version(m)}`, ...m.options],
  describeSource: (m) => `nfs ${nfsSource(src(m))}`,
  bootEntry: (m) => ({ what: nfsSource(src(m)), type: nfsDriver.liveFsType(m), options: nfsDriver.mountOptions(m) }),
  sourceMatches: (m, live) => live.source === nfsSource(src(m)),
  // A TCP connect to 2049 proves the server answers; nfs-ls (libnfs-utils), when installed,
  // proves the export exists and is exported to this node, which the connect cannot.
  async preflight(m, ctx) {
    const s = src(m);
    await requireReachable(`NFS server ${s.server}`, [{ host: s.server, port: 2049 }]);
    try {
      const r = await runArgv(ctx, nfsLs(s.server, s.export, version(m)), { allowFailure: true, timeoutMs: 30_000 });
      if (r.code !== 0) throw new AgentError('EXPORT_NOT_FOUND', `${nfsSource(s)}: the server answers but does not export it to this node (nfs-ls: ${tail(r)})`);
    } catch (err) {
      if (!isMissingProgram(err)) throw err;
      ctx.warn?.(`nfs-ls (libnfs-utils) is not installed, so only the TCP port of the NFS server ${nfsSource(s)} was checked`);
    }
  },
  async mount(m, ctx, realTarget) {
    const options = nfsDriver.mountOptions(m).filter((o) => !isUserspaceOnly(o));
    await runArgv(ctx, mountCmd(nfsDriver.liveFsType(m), options, nfsSource(src(m)), realTarget), { timeoutMs: 120_000 });
  },
};
