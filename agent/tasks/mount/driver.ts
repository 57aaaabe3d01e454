import type { MountSpec } from '../../../proto/gen/muster/agent/v1/mount.js';
import type { Change, TaskContext } from '../task.js';
import type { Item, ItemState } from './host-items.js';
import type { MountEntry } from '../../host/mountinfo.js';

export type SourceType = 'iscsi' | 'nfs' | 'cephRbd' | 'cephfs' | 'glusterfs' | 'block';
export type DesiredState = 'mounted' | 'unmounted' | 'absent';
export type Persistence = 'systemd' | 'fstab' | 'none';

// A spec with its defaults filled in and its driver picked.
export interface Mount {
  spec: MountSpec;
  // normalized host path of the mount point
  target: string;
  state: DesiredState;
  persistence: Persistence;
  // the filesystem on the device, for the device types
  fsType: string;
  // the spec's own mount options
  options: string[];
  deviceTimeoutMs: number;
  driver: Driver;
}

// What the host holds for one mount, as observe saw it.
export interface Observed {
  realTarget: string;
  // the mount on top at the target
  mount: MountEntry | null;
  // real path of the live mount's source when that is a device path
  liveDevice: string | null;
  // the driver's attachment state (iSCSI node and session, RBD mapping)
  attach: unknown;
  // real path of the block device the filesystem lives on, when it exists
  device: string | null;
  items: ObservedItem[];
}

// A host item with what observe saw of it; credentials are applied first, persistence last.
export interface ObservedItem {
  item: Item;
  group: 'credentials' | 'persistence';
  state: ItemState;
}

// How the mount comes back at boot: the fields of an fstab line or a .mount unit.
export interface BootEntry {
  what: string;
  type: string;
  options: string[];
}

// A block device or session the mount needs before it can be made: iSCSI login, RBD mapping.
export interface Attachment<S> {
  observe(m: Mount, ctx: TaskContext): Promise<S>;
  // what differs from attached (want true) or detached (want false)
  diff(m: Mount, state: S, want: boolean): Change[];
  up(m: Mount, state: S, ctx: TaskContext): Promise<void>;
  down(m: Mount, state: S, ctx: TaskContext): Promise<void>;
  // host path of the block device once attached, null while it is not
  device(m: Mount, state: S): string | null;
}

// The part of the mount kind that differs per source type; the mechanics around it are shared.
export interface Driver {
  type: SourceType;
  // network mounts wait for the network at boot (_netdev) and belong to remote-fs.target
  network: boolean;
  // false for FUSE clients, which consume their options in userspace: only per-mount flags show
  fsOptionsVisible(m: Mount): boolean;
  // the filesystem sits on a block device the agent may format (block, iscsi, ceph_rbd)
  blockDevice: boolean;
  validate(m: Mount): string[];
  // values that must never appear in a log line, a diff or an error message
  secrets(m: Mount): string[];
  // credential and config files, and lines in shared files, besides the persistence entry
  items(m: Mount): Item[];
  liveFsType(m: Mount): string;
  // every option the mount is made with: the driver's own (vers=, name=) and the spec's
  mountOptions(m: Mount): string[];
  describeSource(m: Mount): string;
  // the boot entry, or why this source cannot have one
  bootEntry(m: Mount): BootEntry | string;
  attachment?: Attachment<unknown>;
  // the device path when it is known without running anything (status reports)
  knownDevice?(m: Mount): string;
  sourceMatches(m: Mount, live: MountEntry, observed: Pick<Observed, 'liveDevice' | 'device'>): boolean;
  // checks the server answers before a mount that would otherwise hang until its timeout
  preflight?(m: Mount, ctx: TaskContext): Promise<void>;
  mount(m: Mount, ctx: TaskContext, realTarget: string, device: string | null): Promise<void>;
}

// Attachments keep their own state type; the shared code only passes it back.
export function attachment<S>(a: Attachment<S>): Attachment<unknown> {
  return a as Attachment<unknown>;
}
