import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { tempHost } from '../../test/helpers/host.js';
import { useStandins } from '../../test/helpers/standins.js';
import { timeline } from '../../test/helpers/timeline.js';
import { parseSwaps } from '../host/kernel.js';
import { disableSwapLines } from './swap.js';

// swapoff is a stand-in here (test/helpers/standins/swapoff) acting on the temp root's
// /proc/swaps; the real swapoff of a real swap file runs in test/system.
const standins = useStandins();
const HEADER = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n';
const FSTAB = 'UUID=abcd / ext4 errors=remount-ro 0 1\n/swap.img none swap sw 0 0\n';
const live = (...areas: string[]) => async (real: (p: string) => string) => {
  standins.rootFor(real);
  await fs.mkdir(real('/proc'), { recursive: true });
  await fs.writeFile(real('/proc/swaps'), HEADER + areas.map((a) => `${a}\tfile\t\t1048572\t\t0\t\t-2\n`).join(''));
};

timeline({
  name: 'swap (live)',
  task: { id: 'sw', swap: {} },
  setup: async (real) => {
    await live('/swap.img')(real);
    await fs.mkdir(real('/etc'), { recursive: true });
    await fs.writeFile(real('/etc/fstab'), FSTAB);
  },
  drift: live('/swap.img'),
});

timeline({
  name: 'swap (fstab)',
  task: { id: 'sw', swap: {} },
  setup: async (real) => {
    await live()(real);
    await fs.mkdir(real('/etc'), { recursive: true });
    await fs.writeFile(real('/etc/fstab'), FSTAB);
  },
  drift: async (real) => fs.appendFile(real('/etc/fstab'), '/dev/vdb2 none swap sw 0 0\n'),
});

test('swap: the fstab line is commented out, kept in its place, and the rest left alone', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  await live('/swap.img')(h.real);
  await fs.mkdir(h.real('/etc'), { recursive: true });
  await fs.writeFile(h.real('/etc/fstab'), FSTAB + '# /old none swap sw 0 0\n');
  const r = (await h.run([{ id: 'sw', swap: {} }])).results[0];
  assert.equal(r.status, TaskStatus.TASK_STATUS_CHANGED);
  assert.equal(await fs.readFile(h.real('/etc/fstab'), 'utf8'), 'UUID=abcd / ext4 errors=remount-ro 0 1\n# swap off (muster): /swap.img none swap sw 0 0\n# /old none swap sw 0 0\n');
  assert.deepEqual(parseSwaps(await fs.readFile(h.real('/proc/swaps'), 'utf8')), []);
});

test('swap: /proc/swaps and fstab parsing', () => {
  assert.deepEqual(parseSwaps(HEADER + '/dev/vda2 partition 100 0 -2\n/srv/my\\040swap file 10 0 -3\n'), ['/dev/vda2', '/srv/my swap']);
  assert.deepEqual(parseSwaps(HEADER), []);
  assert.equal(disableSwapLines('/dev/sda1 / ext4 defaults 0 1\n  /dev/sda2 none swap sw 0 0\n'), '/dev/sda1 / ext4 defaults 0 1\n# swap off (muster):   /dev/sda2 none swap sw 0 0\n');
});

test('swap: an fstab path outside the policy is refused', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  await live()(h.real);
  const r = (await h.run([{ id: 'sw', swap: { fstab: '/etc/passwd' } }])).results[0];
  assert.equal(r.errorCode, 'INVALID_SPEC');
});
