import { z } from 'zod';
import {
  CephFsClient,
  CephRbdMapper,
  MountPersistence,
  MountState,
  type MountSpec,
} from '../../proto/gen/muster/agent/v1/mount.js';

const monitors = z.array(z.string().min(1)).min(1, 'at least one monitor');
// A value may still hold ${NAME} placeholders here; the agent checks it again once filled in.
const templated = (test: (s: string) => boolean) => (s: string) => s.includes('${') || test(s);

// One mount as an operator writes it, in a task file (`mount:`) or the cluster spec (`storage:`).
export const mountSchema = z
  .object({
    target: z.string().refine(templated((s) => s.startsWith('/')), 'must be an absolute path'),
    state: z.enum(['mounted', 'unmounted', 'absent']).default('mounted'),
    persistence: z.enum(['systemd', 'fstab', 'none']).default('systemd'),
    fsType: z.string().optional(),
    options: z.array(z.string()).default([]),
    mkfs: z.boolean().default(false),
    mkfsOptions: z.array(z.string()).default([]),
    deviceTimeoutSeconds: z.number().int().min(1).max(3600).optional(),
    iscsi: z
      .object({
        portal: z.string().min(1),
        iqn: z.string().regex(/^iqn\.\d{4}-\d{2}\.[^\s]+$/, 'must be an iSCSI qualified name (iqn.YYYY-MM.reversed.domain:name)'),
        lun: z.number().int().min(0).default(0),
        chapUsername: z.string().optional(),
        chapPassword: z.string().optional(),
        initiatorName: z.string().optional(),
      })
      .strict()
      .optional(),
    nfs: z.object({ server: z.string().min(1), export: z.string().startsWith('/'), version: z.string().default('4.1') }).strict().optional(),
    cephRbd: z
      .object({ monitors, pool: z.string().min(1), image: z.string().min(1), user: z.string().default('admin'), key: z.string().min(1), mapper: z.enum(['krbd', 'nbd', 'fuse']).default('krbd') })
      .strict()
      .optional(),
    cephfs: z
      .object({ monitors, path: z.string().startsWith('/').default('/'), user: z.string().default('admin'), key: z.string().min(1), client: z.enum(['kernel', 'fuse']).default('kernel') })
      .strict()
      .optional(),
    glusterfs: z.object({ servers: z.array(z.string().min(1)).min(1), volume: z.string().min(1) }).strict().optional(),
    block: z.object({ device: z.string().refine(templated((s) => s.startsWith('/dev/')), 'must be a device path under /dev') }).strict().optional(),
  })
  .strict()
  .refine((m) => ['iscsi', 'nfs', 'cephRbd', 'cephfs', 'glusterfs', 'block'].filter((k) => m[k as keyof typeof m] !== undefined).length === 1, {
    message: 'a mount has exactly one source: iscsi, nfs, cephRbd, cephfs, glusterfs or block',
  });

export type MountInput = z.output<typeof mountSchema>;

export function toMountSpec(m: MountInput): MountSpec {
  return {
    target: m.target,
    fsType: m.fsType ?? '',
    options: m.options,
    state: { mounted: MountState.MOUNT_STATE_MOUNTED, unmounted: MountState.MOUNT_STATE_UNMOUNTED, absent: MountState.MOUNT_STATE_ABSENT }[m.state],
    persistence: { systemd: MountPersistence.MOUNT_PERSISTENCE_SYSTEMD, fstab: MountPersistence.MOUNT_PERSISTENCE_FSTAB, none: MountPersistence.MOUNT_PERSISTENCE_NONE }[m.persistence],
    mkfs: m.mkfs,
    mkfsOptions: m.mkfsOptions,
    deviceTimeoutMs: (m.deviceTimeoutSeconds ?? 0) * 1000,
    iscsi: m.iscsi && { portal: m.iscsi.portal, iqn: m.iscsi.iqn, lun: m.iscsi.lun, chapUsername: m.iscsi.chapUsername ?? '', chapPassword: m.iscsi.chapPassword ?? '', initiatorName: m.iscsi.initiatorName ?? '' },
    nfs: m.nfs,
    cephRbd: m.cephRbd && { ...m.cephRbd, mapper: { krbd: CephRbdMapper.CEPH_RBD_MAPPER_KRBD, nbd: CephRbdMapper.CEPH_RBD_MAPPER_NBD, fuse: CephRbdMapper.CEPH_RBD_MAPPER_FUSE }[m.cephRbd.mapper] },
    cephfs: m.cephfs && { ...m.cephfs, client: m.cephfs.client === 'fuse' ? CephFsClient.CEPH_FS_CLIENT_FUSE : CephFsClient.CEPH_FS_CLIENT_KERNEL },
    glusterfs: m.glusterfs,
    block: m.block,
  };
}
