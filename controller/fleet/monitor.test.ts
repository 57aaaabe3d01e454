import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Inventory, InventoryNode } from '../inputs/inventory.js';
import type { Fleet } from './fleet.js';
import { DEFAULT_SCHEDULE, FleetMonitor, firstConnectMs, retryDelayMs, type ReconnectSchedule } from './monitor.js';

test('monitor schedule: full jitter under an exponential ceiling, capped', () => {
  const top: ReconnectSchedule = { ...DEFAULT_SCHEDULE, random: () => 0.999999 };
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 20, 1000].map((a) => retryDelayMs(a, top)), [499, 999, 1999, 3999, 7999, 15999, 29999, 29999, 29999, 29999]);
  assert.equal(retryDelayMs(5, { ...DEFAULT_SCHEDULE, random: () => 0 }), 0);
  assert.equal(retryDelayMs(3, { ...DEFAULT_SCHEDULE, random: () => 0.5 }), 2000);
  // 1,000 nodes start within 2 s; 10,000 within the 3 s cap.
  assert.equal(firstConnectMs(1000, top), 1999);
  assert.equal(firstConnectMs(10_000, top), 2999);
});

test('monitor schedule: 1,000 first connects and 1,000 retries at once are spread out, not a herd', () => {
  const buckets = (xs: number[], width: number) => {
    const b = new Map<number, number>();
    for (const x of xs) b.set(Math.floor(x / width), (b.get(Math.floor(x / width)) ?? 0) + 1);
    return Math.max(...b.values());
  };
  const first = Array.from({ length: 1000 }, () => firstConnectMs(1000, DEFAULT_SCHEDULE));
  assert.ok(Math.max(...first) < 2000);
  // Uniform over 2 s: about 50 per 100 ms; never a burst of hundreds.
  assert.ok(buckets(first, 100) < 120, `${buckets(first, 100)} first connects in one 100 ms`);
  const retries = Array.from({ length: 1000 }, () => retryDelayMs(2, DEFAULT_SCHEDULE));
  assert.ok(Math.max(...retries) < 2000 && buckets(retries, 100) < 120, `${buckets(retries, 100)} retries in one 100 ms`);
});

test('monitor: a lost stream is retried on the schedule, the attempt reset by the first good event', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const node = { name: 'a', address: '127.0.0.1', agentPort: 1 } as InventoryNode;
  const calls: number[] = [];
  let script: ('fail' | 'ok')[] = ['fail', 'fail', 'fail', 'ok', 'fail'];
  const fleet = {
    client: () => ({
      watch: (onEvent: (e: object) => void, onError: (e: string) => void) => {
        calls.push(Date.now());
        const step = script.shift();
        queueMicrotask(() => (step === 'ok' ? (onEvent({ status: { ready: true } }), onError('dropped')) : onError('refused')));
        return () => undefined;
      },
    }),
  } as unknown as Fleet;
  const m = new FleetMonitor(fleet, { nodes: [node] } as Inventory, {}, { ...DEFAULT_SCHEDULE, random: () => 0.5 });
  m.start();
  const run = async (ms: number) => {
    for (let i = 0; i < ms; i += 10) {
      t.mock.timers.tick(10);
      await Promise.resolve();
    }
  };
  return (async () => {
    await run(6000);
    // Start at 1 ms (spread 2 ms * 0.5), then +250 (attempt 0), +500, +1000; the 4th connect
    // succeeds then drops, so the next retry is attempt 0 again: +250.
    const gaps = calls.slice(1).map((c, i) => c - calls[i]);
    assert.deepEqual(gaps.slice(0, 4), [250, 500, 1000, 250]);
    m.stop();
    script = [];
  })();
});

test('monitor: at most maxConnecting streams wait for their first status; the rest queue and follow', async () => {
  const nodes = Array.from({ length: 10 }, (_, i) => ({ name: `n${i}`, address: '127.0.0.1', agentPort: 1 }) as InventoryNode);
  const answer = new Map<string, (e: object) => void>();
  let most = 0;
  const fleet = {
    client: (n: InventoryNode) => ({
      watch: (onEvent: (e: object) => void) => {
        answer.set(n.name, onEvent);
        most = Math.max(most, answer.size);
        return () => undefined;
      },
    }),
  } as unknown as Fleet;
  const m = new FleetMonitor(fleet, { nodes } as Inventory, {}, { ...DEFAULT_SCHEDULE, spreadMaxMs: 0, maxConnecting: 3 });
  m.start();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(answer.size, 3, 'three dialled, seven queued');
  // Each first status lets the next queued node dial.
  for (let i = 0; i < 10; i++) {
    const [name, ev] = [...answer].find(([k]) => m.views.get(k)!.error)!;
    ev({ status: { ready: true } });
    assert.equal(m.views.get(name)!.error, undefined);
  }
  assert.equal(most, 10);
  assert.equal([...m.views.values()].filter((v) => v.error).length, 0, 'every node answered in the end');
  m.stop();
});

test('monitor: a stream with no first status in time is dropped and dialled again, the node shown unreachable', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const node = { name: 'a', address: '127.0.0.1', agentPort: 1 } as InventoryNode;
  let dials = 0;
  let cancelled = 0;
  const fleet = { client: () => ({ watch: () => (dials++, () => void cancelled++) }) } as unknown as Fleet;
  const m = new FleetMonitor(fleet, { nodes: [node] } as Inventory, {}, { ...DEFAULT_SCHEDULE, spreadMaxMs: 0, firstStatusMs: 1000, random: () => 0.5 });
  m.start();
  t.mock.timers.tick(1);
  assert.equal(dials, 1);
  t.mock.timers.tick(1000);
  assert.equal(cancelled, 1);
  assert.match(m.views.get('a')!.error!, /no status from a within 1 s/);
  t.mock.timers.tick(250);
  assert.equal(dials, 2, 'dialled again after the backoff');
  m.stop();
});

test('monitor: nodes that never answer free their connect slot after slotMs, so the queue goes on', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const nodes = Array.from({ length: 6 }, (_, i) => ({ name: `n${i}`, address: '127.0.0.1', agentPort: 1 }) as InventoryNode);
  let dials = 0;
  const fleet = { client: () => ({ watch: () => (dials++, () => undefined) }) } as unknown as Fleet;
  const m = new FleetMonitor(fleet, { nodes } as Inventory, {}, { ...DEFAULT_SCHEDULE, spreadMaxMs: 0, maxConnecting: 2, slotMs: 500, firstStatusMs: 60_000 });
  m.start();
  t.mock.timers.tick(1);
  assert.equal(dials, 2);
  t.mock.timers.tick(500);
  assert.equal(dials, 4, 'two slots freed by time, two more dialled');
  t.mock.timers.tick(500);
  assert.equal(dials, 6);
  m.stop();
});
