import path from 'node:path';
import { MountPersistence, MountState, type MountSpec } from '../../../proto/gen/muster/agent/v1/mount.js';
import { blockDriver } from './block.js';
import { cephfsDriver, cephRbdDriver } from './ceph.js';
import type { DesiredState, Driver, Mount, Persistence, SourceType } from './driver.js';
import { glusterfsDriver } from './glusterfs.js';
import { iscsiDriver } from './iscsi.js';
import { nfsDriver } from './nfs.js';

// The source oneof field → its driver.
export const drivers: Record<SourceType, Driver> = {
  iscsi: iscsiDriver,
  nfs: nfsDriver,
  cephRbd: cephRbdDriver,
  cephfs: cephfsDriver,
  glusterfs: glusterfsDriver,
  block: blockDriver,
};

const STATES: Record<number, DesiredState> = {
  [MountState.MOUNT_STATE_UNSPECIFIED]: 'mounted',
  [MountState.MOUNT_STATE_MOUNTED]: 'mounted',
  [MountState.MOUNT_STATE_UNMOUNTED]: 'unmounted',
  [MountState.MOUNT_STATE_ABSENT]: 'absent',
};

const PERSISTENCE: Record<number, Persistence> = {
  [MountPersistence.MOUNT_PERSISTENCE_UNSPECIFIED]: 'systemd',
  [MountPersistence.MOUNT_PERSISTENCE_SYSTEMD]: 'systemd',
  [MountPersistence.MOUNT_PERSISTENCE_FSTAB]: 'fstab',
  [MountPersistence.MOUNT_PERSISTENCE_NONE]: 'none',
};

// Options that would make the mount something else than the spec says.
const REFUSED_OPTIONS = new Set(['auto', 'noauto', 'bind', 'rbind', 'move', 'remount']);

function sourcesOf(spec: MountSpec): SourceType[] {
  return (Object.keys(drivers) as SourceType[]).filter((k) => spec[k] !== undefined && spec[k] !== null);
}

export function targetOf(spec: MountSpec): string {
  return path.posix.normalize(spec.target || '/').replace(/(.)\/+$/, '$1');
}

// Defaults filled in; call after validate said nothing.
export function resolveMount(spec: MountSpec): Mount {
  const [type] = sourcesOf(spec);
  const driver = drivers[type];
  return {
    spec,
    target: targetOf(spec),
    state: STATES[spec.state] ?? 'mounted',
    persistence: PERSISTENCE[spec.persistence] ?? 'systemd',
    fsType: driver.blockDevice ? spec.fsType || 'ext4' : '',
    options: [...spec.options],
    deviceTimeoutMs: spec.deviceTimeoutMs || 30_000,
    driver,
  };
}

export function validateMount(spec: MountSpec): string[] {
  const problems: string[] = [];
  const t = spec.target;
  if (!t || !t.startsWith('/') || t === '/' || targetOf(spec) !== t.replace(/(.)\/+$/, '$1')) problems.push(`target ${JSON.stringify(t)} is not a normalized absolute path below /`);
  // A newline or tab would break the unit file and fstab line; mountinfo could not show it either.
  if ([...t].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) problems.push('target holds a control character');
  const sources = sourcesOf(spec);
  if (sources.length !== 1) {
    problems.push(`exactly one source is needed (iscsi, nfs, cephRbd, cephfs, glusterfs, block); found ${sources.length ? sources.join(', ') : 'none'}`);
    return problems;
  }
  if (!(spec.state in STATES)) problems.push(`state ${spec.state} is not mounted, unmounted or absent`);
  if (!(spec.persistence in PERSISTENCE)) problems.push(`persistence ${spec.persistence} is not systemd, fstab or none`);
  for (const o of spec.options) {
    if (!o || /[\s,]/.test(o)) problems.push(`option ${JSON.stringify(o)}: one option per entry, without spaces or commas`);
    else if (REFUSED_OPTIONS.has(o)) problems.push(`option ${o} is not allowed: ${o.endsWith('auto') ? 'use state unmounted to keep it from mounting at boot' : 'the mount kind decides how it mounts'}`);
  }
  const m = resolveMount(spec);
  if (m.driver.blockDevice) {
    if (!/^[a-z0-9]+(\.[a-z0-9]+)?$/.test(m.fsType)) problems.push(`fsType ${JSON.stringify(spec.fsType)} is not a filesystem type`);
  } else {
    if (spec.fsType) problems.push(`fsType is for block, iscsi and cephRbd sources; ${sources[0]} decides its own`);
    if (spec.mkfs || spec.mkfsOptions.length) problems.push(`mkfs is for block, iscsi and cephRbd sources, not ${sources[0]}`);
  }
  if (spec.mkfsOptions.length && !spec.mkfs) problems.push('mkfsOptions without mkfs');
  if (spec.deviceTimeoutMs > 600_000) problems.push('deviceTimeoutMs is above 600000 (10 minutes)');
  if (m.persistence !== 'none' && m.state !== 'absent') {
    const boot = m.driver.bootEntry(m);
    if (typeof boot === 'string') problems.push(`persistence ${m.persistence}: ${boot}`);
  }
  problems.push(...m.driver.validate(m));
  return problems;
}
