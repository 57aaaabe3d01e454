import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { TaskResult } from '../../proto/gen/muster/agent/v1/agent.js';
import { resultBatches } from './grpc.js';

const r = (id: string) => TaskResult.fromPartial({ id });

test('result batches: results of one burst go out together, in order, once the window has passed', async () => {
  const written: string[] = [];
  const b = resultBatches((t) => written.push(t.id), 20);
  b.push(r('a'));
  b.push(r('b'));
  await sleep(5);
  b.push(r('c'));
  assert.deepEqual(written, [], 'held within the window');
  await sleep(40);
  assert.deepEqual(written, ['a', 'b', 'c']);
  b.push(r('d'));
  await sleep(40);
  assert.deepEqual(written, ['a', 'b', 'c', 'd'], 'a later result gets its own window: a long plan still shows progress');
});

test('result batches: flush writes what waits at once, and nothing twice', async () => {
  const written: string[] = [];
  const b = resultBatches((t) => written.push(t.id), 20);
  b.push(r('a'));
  b.push(r('b'));
  b.flush();
  assert.deepEqual(written, ['a', 'b'], 'before the summary or the error is sent');
  await sleep(40);
  b.flush();
  assert.deepEqual(written, ['a', 'b']);
});
