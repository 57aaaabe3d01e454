import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeView } from '../fleet/view.js';
import { ControllerEvents } from './events.js';

const view = (name: string, error: string): NodeView => ({ node: { name, address: '127.0.0.1', agentPort: 1, hostname: name, roles: ['worker'], labels: {} } as unknown as NodeView['node'], error, errorSinceMs: 1, updatedAtMs: 1 });

test('events: a node is sent at once, then at most once per window with its latest view; other nodes are not held back', async () => {
  const bus = new ControllerEvents(50);
  const got: { node: string; error?: string }[] = [];
  bus.subscribe((name, data) => name === 'node' && got.push(data as { node: string; error?: string }));
  bus.node(view('a', 'e1'));
  bus.node(view('a', 'e2'));
  bus.node(view('a', 'e3'));
  bus.node(view('b', 'x'));
  assert.deepEqual(got.map((g) => [g.node, g.error]), [['a', 'e1'], ['b', 'x']]);
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(got.map((g) => [g.node, g.error]), [['a', 'e1'], ['b', 'x'], ['a', 'e3']]);
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(got.length, 3, 'nothing more without a change');
  bus.close();
});
