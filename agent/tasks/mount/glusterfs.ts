import type { GlusterFsSource } from '../../../proto/gen/muster/agent/v1/mount.js';
import { mountCmd } from './commands.js';
import type { Driver, Mount } from './driver.js';
import { requireReachable, splitHostPort } from './network.js';
import { isUserspaceOnly, keyOf } from './options.js';
import { runArgv } from './run.js';

const src = (m: Mount): GlusterFsSource => m.spec.glusterfs!;
// glusterd's management port, where the mount fetches the volume file.
const GLUSTERD_PORT = 24007;

export function glusterSource(s: GlusterFsSource): string {
  return `${s.servers[0]}:/${s.volume}`;
}

// GlusterFS through its FUSE client: the first server hands out the volume file, the others
// are tried when it does not answer.
export const glusterfsDriver: Driver = {
  type: 'glusterfs',
  network: true,
  fsOptionsVisible: () => false,
  blockDevice: false,
  validate(m) {
    const s = src(m);
    const problems: string[] = [];
    if (s.servers.length === 0) problems.push('glusterfs.servers needs at least one server');
    for (const server of s.servers) if (!server || /[\s/:,]/.test(server)) problems.push(`glusterfs.servers: ${JSON.stringify(server)} is not a host name or IPv4 address`);
    if (!/^[A-Za-z0-9_-]+$/.test(s.volume)) problems.push(`glusterfs.volume ${JSON.stringify(s.volume)} is not a volume name`);
    if (m.options.some((o) => ['backup-volfile-servers', 'backupvolfile-server'].includes(keyOf(o)))) problems.push('glusterfs: list backup servers in glusterfs.servers, not as a mount option');
    return problems;
  },
  secrets: () => [],
  items: () => [],
  liveFsType: () => 'fuse.glusterfs',
  mountOptions: (m) => [...(src(m).servers.length > 1 ? [`backup-volfile-servers=${src(m).servers.slice(1).join(':')}`] : []), ...m.options],
  describeSource: (m) => `glusterfs ${glusterSource(src(m))}`,
  bootEntry: (m) => ({ what: glusterSource(src(m)), type: 'glusterfs', options: glusterfsDriver.mountOptions(m) }),
  // The client names the mount after the server it got the volume file from.
  sourceMatches: (m, live) => src(m).servers.some((server) => live.source === `${server}:/${src(m).volume}`),
  async preflight(m) {
    await requireReachable(`GlusterFS volume ${src(m).volume}`, src(m).servers.map((s) => splitHostPort(s, GLUSTERD_PORT)));
  },
  async mount(m, ctx, realTarget) {
    // mount.glusterfs reads backup-volfile-servers itself: it stays on the command line.
    const options = glusterfsDriver.mountOptions(m).filter((o) => keyOf(o) === 'backup-volfile-servers' || !isUserspaceOnly(o));
    await runArgv(ctx, mountCmd('glusterfs', options, glusterSource(src(m)), realTarget), { timeoutMs: 120_000 });
  },
};
