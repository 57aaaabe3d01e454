import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ControllerError } from '../errors.js';
import type { Leadership } from '../ha/leadership.js';
import type { AppContext } from './context.js';
import { Jobs } from './jobs.js';
import { ControllerService, NotLeaderError } from './service.js';

const follower: Leadership = {
  isLeader: () => false,
  onChange: () => () => undefined,
  leader: async () => ({ id: 'ctl-a:42', url: 'https://10.0.0.5:7480', sinceMs: 1 }),
  close: async () => undefined,
};
const nothing = new Proxy({}, { get: () => assert.fail('a follower must not touch the store or the fleet') }) as AppContext;

test('service: a follower starts nothing and names the leader (NOT_LEADER)', async () => {
  const jobs = new Jobs();
  const s = new ControllerService({ state: '/nonexistent', inventory: '/nonexistent', ctx: nothing, leadership: follower, jobs });
  const who = { user: 'alice', host: 'api' };
  for (const call of [() => s.apply({ tasks: 't.yaml' }, who), () => s.rollout({ tasks: 't.yaml' }, who), () => s.resume('r-1', who)]) {
    await assert.rejects(call(), (e: NotLeaderError) => e.code === 'NOT_LEADER' && e.leader?.url === 'https://10.0.0.5:7480' && /the leader is ctl-a:42 at https:\/\/10\.0\.0\.5:7480/.test(e.message));
  }
  assert.equal(jobs.running(), undefined);
});

test('jobs: one at a time; a failure keeps its code and message', async () => {
  const jobs = new Jobs();
  let finish!: () => void;
  const a = jobs.start('apply', { user: 'u', host: 'h' }, () => new Promise<void>((r) => (finish = r)));
  assert.throws(() => jobs.start('rollout', { user: 'u', host: 'h' }, async () => undefined), (e: ControllerError) => e.code === 'ROLLOUT_LOCKED' && e.message.includes(a.id));
  await new Promise((r) => setImmediate(r));
  finish();
  await jobs.idle();
  assert.equal(jobs.get(a.id)!.state, 'done');
  const b = jobs.start('rollout', { user: 'u', host: 'h' }, async () => {
    throw new ControllerError('ROLLOUT_REFUSED', 'quorum');
  });
  await jobs.idle();
  assert.deepEqual(jobs.get(b.id)!.error, { error: 'ROLLOUT_REFUSED', message: 'quorum' });
});
