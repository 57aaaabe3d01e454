import path from 'node:path';
import { deviceMatches, mountDevice } from './device.js';
import type { Driver } from './driver.js';

// A local block device: a disk, a partition, an assembled RAID array (/dev/md0).
export const blockDriver: Driver = {
  type: 'block',
  network: false,
  fsOptionsVisible: () => true,
  blockDevice: true,
  validate(m) {
    const device = m.spec.block?.device ?? '';
    if (!device.startsWith('/dev/') || path.posix.normalize(device) !== device) return [`block.device ${JSON.stringify(device)} is not a normalized path under /dev`];
    return [];
  },
  secrets: () => [],
  items: () => [],
  liveFsType: (m) => m.fsType,
  mountOptions: (m) => m.options,
  describeSource: (m) => m.spec.block!.device,
  bootEntry: (m) => ({ what: m.spec.block!.device, type: m.fsType, options: m.options }),
  knownDevice: (m) => m.spec.block!.device,
  sourceMatches: deviceMatches,
  mount: mountDevice,
};
