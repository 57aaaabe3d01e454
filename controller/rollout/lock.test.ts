import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { ControllerError } from '../errors.js';
import { tempStore } from '../../test/helpers/rollout-fleet.js';
import { pidAlive, ROLLOUT_LOCK, selfHolder, takeRolloutLock } from './lock.js';

const deadPid = (): number => {
  // A process that has exited: its pid is free (reuse within the test is vanishingly unlikely).
  const p = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(p.stdout);
};

test('lock: a second holder on this host is refused with the holder\'s pid and host; released, it can be taken', async (t) => {
  const { store, reopen } = tempStore(t);
  const other = reopen();
  const first = { ...selfHolder('rollout A'), pid: process.ppid };
  await takeRolloutLock(store, 'rollout A', first);
  await assert.rejects(takeRolloutLock(other, 'rollout A'), (err: ControllerError) => {
    assert.equal(err.code, 'ROLLOUT_LOCKED');
    assert.match(err.message, new RegExp(`another muster is running rollout A: pid ${process.ppid} on ${first.host}`));
    return true;
  });
  await other.releaseLock(ROLLOUT_LOCK, selfHolder('x'));
  await assert.rejects(takeRolloutLock(other, 'rollout A'), /pid/, 'a release by a non-holder leaves the lock');
  await store.releaseLock(ROLLOUT_LOCK, first);
  const release = await takeRolloutLock(other, 'rollout B');
  await release();
});

test('lock: a dead pid on this host is taken over; a holder on another host never is', async (t) => {
  const { store } = tempStore(t);
  const pid = deadPid();
  assert.equal(pidAlive(pid), false);
  assert.equal(pidAlive(process.pid), true);
  await takeRolloutLock(store, 'rollout A', { ...selfHolder('rollout A'), pid });
  const release = await takeRolloutLock(store, 'rollout B');
  await release();
  await takeRolloutLock(store, 'rollout C', { ...selfHolder('rollout C'), pid, host: 'elsewhere.example' });
  await assert.rejects(takeRolloutLock(store, 'rollout D'), /pid \d+ on elsewhere\.example .*another host/);
});
