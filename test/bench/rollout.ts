// The rollout runner's own overhead per node step, journal writes included.
//   npm run bench:rollout [-- --workers 1000 --batch 10%]
// Rolls simulated workers in batches with a zero soak through the runner, over the real SQLite
// store in a temp folder, with a dispatcher and a health source that answer at once. Reports
// the total time, the time spent inside the dispatcher, and (total - dispatcher) per node step.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Dispatcher, HealthSource, NodeHealth } from '../../controller/rollout/ports.js';
import { RolloutRunner } from '../../controller/rollout/runner.js';
import { openStore } from '../../controller/store/sqlite.js';

const { values } = parseArgs({ options: { workers: { type: 'string', default: '1000' }, batch: { type: 'string', default: '10%' } } });
const N = Number(values.workers);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muster-bench-rollout-'));
const store = openStore(dir);

const applied = new Map<string, { revision: string; generation: number }>();
let dispatchMs = 0;
const dispatcher: Dispatcher = {
  async dispatch(req) {
    const t = performance.now();
    applied.set(req.node, { revision: req.revision, generation: req.generation });
    dispatchMs += performance.now() - t;
    return { status: 'converged', changed: 1 };
  },
};
const kubelet = { healthy: true, message: 'ok', lastError: '', sinceMs: 0, details: {} };
const health: HealthSource = {
  async health(node): Promise<NodeHealth> {
    const a = applied.get(node) ?? { revision: 'v1', generation: 1 };
    return { reachable: true, generation: a.generation, revision: a.revision, probes: { kubelet } };
  },
};

const nodes = Array.from({ length: N }, (_, i) => ({ name: `w${String(i + 1).padStart(4, '0')}`, roles: ['worker'], plan: Buffer.alloc(2048, i % 251), revision: 'v2' }));
await store.savePlans(nodes.map((n) => ({ node: n.name, revision: 'v1', plan: Buffer.alloc(2048) })), 0);
let entries = 0;
const runner = new RolloutRunner({ store, dispatcher, health, onEntry: () => entries++ });
const started = performance.now();
const r = await runner.start({ specHash: 'bench', nodes, options: { batch: values.batch, soakMs: { worker: 0 }, maxFailed: '0' }, operator: { user: 'bench', host: 'bench' } });
const totalMs = performance.now() - started;
store.close();
fs.rmSync(dir, { recursive: true, force: true });
if (r.state !== 'done') throw new Error(`rollout ended ${r.state}: ${r.reason}`);
const perStep = (totalMs - dispatchMs) / N;
console.log(`${N} workers, batch ${values.batch}, zero soak: ${r.state}; ${entries} journal entries`);
console.log(`total ${totalMs.toFixed(0)} ms, in the dispatcher ${dispatchMs.toFixed(1)} ms`);
console.log(`controller overhead per node step: ${perStep.toFixed(3)} ms (goal <= 2 ms: ${perStep <= 2 ? 'met' : 'NOT met'})`);
