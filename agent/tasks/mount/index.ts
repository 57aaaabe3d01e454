import fs from 'node:fs/promises';
import type { MountSpec } from '../../../proto/gen/muster/agent/v1/mount.js';
import type { Host } from '../../host/host.js';
import { linuxKernel, type Kernel } from '../../host/kernel.js';
import { topMount } from '../../host/mountinfo.js';
import { mountMatches, realTargetOf } from './mount-task.js';
import { resolveMount, validateMount } from './spec.js';

export { mountTask } from './mount-task.js';

export interface MountStatus {
  target: string;
  // the spec's filesystem is mounted there (type, and source where it is known without running a command)
  mounted: boolean;
  source: string;
  fsType: string;
  freeBytes: number;
  totalBytes: number;
}

// statfs on a hung network mount blocks; the status report must not.
const STATFS_TIMEOUT_MS = 2000;

async function space(realTarget: string): Promise<{ freeBytes: number; totalBytes: number }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), STATFS_TIMEOUT_MS)));
  try {
    const st = await Promise.race([fs.statfs(realTarget).catch(() => null), timeout]);
    return st ? { freeBytes: st.bavail * st.bsize, totalBytes: st.blocks * st.bsize } : { freeBytes: 0, totalBytes: 0 };
  } finally {
    clearTimeout(timer);
  }
}

// For the agent's status report: what is mounted at each target and its free space. Reads the
// mount table and statfs only; no command runs.
export async function observeMounts(specs: MountSpec[], host: Host, kernel: Kernel = linuxKernel(host.root)): Promise<MountStatus[]> {
  const table = await kernel.mountTable();
  return Promise.all(
    specs.map(async (spec) => {
      const none = { target: spec.target, mounted: false, source: '', fsType: '', freeBytes: 0, totalBytes: 0 };
      if (validateMount(spec).length) return none;
      const m = resolveMount(spec);
      const realTarget = await realTargetOf(host, kernel, m.target).catch(() => null);
      const live = realTarget ? topMount(table, realTarget) : undefined;
      if (!realTarget || !live) return none;
      const known = m.driver.knownDevice?.(m);
      const device = known ? await kernel.realpath(known) : null;
      const liveDevice = live.source.startsWith('/') ? await kernel.realpath(live.source) : null;
      // Mapped RBD devices are known only to `rbd showmapped`: the file system type has to do.
      const mounted = m.driver.blockDevice && !known ? live.fsType === m.driver.liveFsType(m) : mountMatches(m, { mount: live, device, liveDevice });
      return { target: m.target, mounted, source: live.source, fsType: live.fsType, ...(await space(realTarget)) };
    }),
  );
}
