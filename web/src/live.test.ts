import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { throttled } from './live.ts';

it('throttled: a burst of calls is one run now and one after it, never two at once', async () => {
  let runs = 0;
  let inFlight = 0;
  let most = 0;
  const call = throttled(async () => {
    runs++;
    most = Math.max(most, ++inFlight);
    await sleep(30);
    inFlight--;
  }, 50);
  for (let i = 0; i < 10; i++) call();
  await sleep(10);
  for (let i = 0; i < 10; i++) call();
  await sleep(200);
  assert.equal(runs, 2);
  assert.equal(most, 1);
});
