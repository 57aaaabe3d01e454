// The mount kind sees the kernel only through ctx.kernel: a fake kernel is all a test needs to
// show it a mount, a loop device or a machine without systemd.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApplyMode, TaskStatus } from '../../../proto/gen/muster/agent/v1/agent.js';
import { MountPersistence } from '../../../proto/gen/muster/agent/v1/mount.js';
import { FakeKernel } from '../../host/kernel.js';
import { parseMountinfo } from '../../host/mountinfo.js';
import { tempHost } from '../../../test/helpers/host.js';

test('kernel seam: the mount table comes from the context, so a fake table is what the task sees', async (t) => {
  const kernel = new FakeKernel();
  const h = await tempHost({ kernel });
  t.after(() => h.cleanup());
  const task = { id: 'share', mount: { target: '/mnt/share', nfs: { server: '10.0.0.6', export: '/srv/share', version: '4.1' }, persistence: MountPersistence.MOUNT_PERSISTENCE_NONE } };
  const before = (await h.run([task], ApplyMode.APPLY_MODE_CHECK)).results[0];
  assert.equal(before.status, TaskStatus.TASK_STATUS_WOULD_CHANGE, `${before.errorCode} ${before.errorMessage}`);
  assert.equal(before.diffs[0].before, '(not mounted)');
  kernel.mounts = parseMountinfo(`45 22 0:50 / ${h.real('/mnt/share')} rw,relatime - nfs4 10.0.0.6:/srv/share rw,vers=4.1\n`);
  const after = (await h.run([task], ApplyMode.APPLY_MODE_CHECK)).results[0];
  assert.deepEqual(after.diffs.filter((d) => d.header.startsWith('mount ')), [], 'mounted as the (fake) kernel says');
});

test('kernel seam: busy checks name the loop devices the kernel lists', async (t) => {
  const { kernelHolders } = await import('./holders.js');
  const kernel = new FakeKernel();
  kernel.loops = [{ device: '/dev/loop7', backingFile: '/mnt/x/disk.img' }];
  t.diagnostic('no /sys/block read: the list is the fake kernel\'s');
  assert.deepEqual(kernelHolders('/mnt/x', [], await kernel.loopDevices()), [{ uses: ['loop /dev/loop7 /mnt/x/disk.img'] }]);
});
