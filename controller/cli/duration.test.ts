import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration, parseRoleDurations } from './duration.js';

test('duration: units, zero, and junk refused with what to give', () => {
  assert.deepEqual(['30s', '5m', '1h', '250ms', '0', '1.5s'].map(parseDuration), [30_000, 300_000, 3_600_000, 250, 0, 1_500]);
  for (const bad of ['', '5', '-1s', '5d', 's', '1 m x']) assert.throws(() => parseDuration(bad), /give a duration such as 30s/, bad);
});

test('duration: per role, a plain value for every role, role overrides after it', () => {
  assert.deepEqual(parseRoleDurations('etcd=30s,worker=0'), { etcd: 30_000, worker: 0 });
  assert.deepEqual(parseRoleDurations('1m,etcd=5m'), { etcd: 300_000, 'control-plane': 60_000, lb: 60_000, worker: 60_000 });
  assert.throws(() => parseRoleDurations('master=5s'), /"master" is not a role: give one of etcd, control-plane, lb, worker/);
  assert.throws(() => parseRoleDurations('worker=soon'), /"soon": give a duration/);
});
