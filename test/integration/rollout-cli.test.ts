import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Agent } from '../../agent/agent.js';
import { openStore } from '../../controller/store/sqlite.js';
import type { HistoryEntry, JournalEntry } from '../../controller/store/store.js';
import { countApplies, makeFleet, repoRoot, startAgents, type TestFleet } from '../helpers/fleet.js';

// `muster rollout` end to end: the real CLI process over four real agents on loopback (mTLS
// gRPC), gated on each worker's kubelet probe, which polls a stand-in kubelet /healthz (no
// kubelet on this machine). Each agent's engine counts the applies it is sent, so a double apply shows.
let f: TestFleet;
let agents: Agent[];
let kubelet: http.Server;
let kubeletUrl = '';
const names = ['r1', 'r2', 'r3', 'r4'];
const file = '/etc/kubernetes/app.conf';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function muster(args: string[], state = f.state): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repoRoot, 'bin/muster.js'), '-s', state, '-i', f.inventoryFile, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

// A task file: every node's app.conf holds `content`; `failOn` gets a task the agent refuses;
// slowMs: a handler that sleeps, so an apply stays in flight that long.
async function tasks(content: string, failOn?: string, slowMs = 0): Promise<string> {
  const p = path.join(f.dir, `tasks-${content}.yaml`);
  const bad = failOn ? `\n  - id: bad\n    on: { nodes: [${failOn}] }\n    file: { path: /root/not-allowed, content: x }` : '';
  const slow = slowMs ? `\n    notify: [slow]\nhandlers:\n  - { id: slow, command: [sleep, "${slowMs / 1000}"] }` : '';
  await fs.writeFile(p, `probes:
  - name: kubelet
    http: { url: "${kubeletUrl}/\${NODE_NAME}/healthz" }
    intervalSeconds: 1
tasks:
  - id: app
    file: { path: ${file}, content: "${content}\\n" }${slow}${bad}
`);
  return p;
}

const fast = ['--soak', 'worker=0', '--gate-timeout', '20s', '--poll', '100ms'];
const onHost = (node: string) => fs.readFile(path.join(f.nodeRoot(node), file), 'utf8').catch(() => '(absent)');
const hosts = () => Promise.all(names.map(onHost));

// Apply calls (mode apply) that reached each agent's engine over gRPC; drift repairs are not counted.
let applyCalls: Record<string, number> = {};
const applies = async () => ({ ...applyCalls });

function journalOf(state = f.state): { id: string; state: string; entries: JournalEntry[] } | undefined {
  const store = openStore(state);
  try {
    const r = store.db.prepare('SELECT id, state FROM rollouts ORDER BY created_at_ms DESC, rowid DESC LIMIT 1').get() as { id: string; state: string } | undefined;
    if (!r) return undefined;
    const entries = (store.db.prepare('SELECT node, step, detail, wave, generation FROM journal WHERE rollout_id = ? ORDER BY seq').all(r.id) as unknown as JournalEntry[]);
    return { id: r.id, state: r.state, entries };
  } finally {
    store.close();
  }
}

async function history(...args: string[]): Promise<HistoryEntry[]> {
  const h = await muster(['history', '-o', 'json', ...args]);
  assert.equal(h.code, 0, h.stderr);
  return JSON.parse(h.stdout) as HistoryEntry[];
}

before(async () => {
  f = await makeFleet(4, 'r');
  // Workers, racks a and b: the inventory's roles decide the waves (the PKI made by makeFleet stays).
  const text = await fs.readFile(f.inventoryFile, 'utf8');
  await fs.writeFile(f.inventoryFile, text.replace(/roles: \[etcd, control-plane\] \}/g, () => 'roles: [worker] }'));
  kubelet = http.createServer((_req, res) => res.writeHead(200).end('ok'));
  await new Promise<void>((r) => kubelet.listen(0, '127.0.0.1', r));
  kubeletUrl = `http://127.0.0.1:${(kubelet.address() as AddressInfo).port}`;
  agents = await startAgents(f);
  applyCalls = countApplies(agents);
});

after(async () => {
  await Promise.all((agents ?? []).map((a) => a.stop()));
  await new Promise((r) => kubelet?.close(r));
  await f?.cleanup();
});

test('rollout: without a terminal and without --yes it refuses and sends nothing', async () => {
  const out = await muster(['rollout', '-t', await tasks('one'), ...fast]);
  assert.equal(out.code, 1);
  assert.match(out.stderr, /CONFIRMATION_REQUIRED: Roll out 4 node\(s\) in 4 wave\(s\)\? No terminal to answer: give --yes/);
  assert.match(out.stdout, /\[plan\] r1: would-change/, 'the plan is shown first');
  assert.deepEqual(await hosts(), names.map(() => '(absent)'));
  assert.equal(journalOf(), undefined, 'no rollout recorded');
});

test('rollout: --dry-run shows the waves and keeps nothing', async () => {
  const out = await muster(['rollout', '-t', await tasks('one'), '--batch', '1,3', '--dry-run']);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /\[rollout\] wave 0: workers batch 1: r1\n\[rollout\] wave 1: workers batch 2: r2, r3, r4\n/);
  assert.match(out.stdout, /dry run: 2 wave\(s\), 4 node\(s\) would change; nothing was sent or kept/);
  assert.equal(journalOf(), undefined);
});

let firstRollout = '';
test('rollout: four workers in batches of two, each step printed, then status and history tell it', async () => {
  const log = path.join(f.dir, 'hooks.log');
  const hooks = ['--hook-before', `echo "drain $MUSTER_NODE" >> ${log}`, '--hook-after', `echo "uncordon $MUSTER_NODE" >> ${log}; echo uncordoned`];
  const out = await muster(['rollout', '-t', await tasks('one'), '--batch', '2', '--yes', ...fast, ...hooks]);
  assert.equal(out.code, 0, out.stdout + out.stderr);
  assert.deepEqual(await hosts(), names.map(() => 'one\n'));
  const hooked = (await fs.readFile(log, 'utf8')).trim().split('\n');
  assert.deepEqual(hooked.filter((l) => l.endsWith('r3')), ['drain r3', 'uncordon r3'], 'each node drained before and uncordoned after');
  assert.equal(hooked.length, 8);
  assert.match(out.stdout, /r4: hook: after: \/bin\/sh -c echo .*: ok\n {6}uncordoned\n/, 'the hook\'s output is in the journal');
  for (const n of names) {
    for (const step of ['dispatched: apply', 'applied: 1 changed', 'gating', 'healthy: gates passed']) assert.match(out.stdout, new RegExp(`wave \\d ${n}: ${step}`));
  }
  assert.match(out.stdout, /\[rollout\] \S+ done\n/);
  const j = journalOf()!;
  firstRollout = j.id;
  assert.deepEqual(j.entries.filter((e) => e.step === 'dispatched').map((e) => `${e.wave} ${e.node}`).sort(), ['0 r1', '0 r2', '1 r3', '1 r4']);
  const lastOfWave0 = Math.max(...j.entries.filter((e) => e.wave === 0).map((e) => j.entries.indexOf(e)));
  assert.ok(j.entries.findIndex((e) => e.wave === 1) > lastOfWave0, 'wave 1 starts once wave 0 is done');

  const status = await muster(['rollout', 'status', '-o', 'json']);
  const s = JSON.parse(status.stdout) as { rollout: { id: string; state: string }; nodes: { node: string; step: string }[] };
  assert.equal(s.rollout.id, firstRollout);
  assert.equal(s.rollout.state, 'done');
  assert.deepEqual(s.nodes.map((n) => n.step), ['healthy', 'healthy', 'healthy', 'healthy']);
  const table = await muster(['rollout', 'status']);
  assert.match(table.stdout, /^r3\s+1\s+healthy\s+\S+ \S+Z\s+gates passed$/m);

  const h = await history();
  const me = `${os.userInfo().username}@${os.hostname()}`;
  assert.ok(h.every((e) => `${e.operator.user}@${e.operator.host}` === me));
  const lines = h.map((e) => `${e.action} ${e.node || e.subject === firstRollout ? e.node || 'rollout' : e.subject} ${e.result} ${e.generationBefore}->${e.generationAfter}`);
  for (const n of names) {
    assert.ok(lines.includes(`plan ${n} recorded 0->1`), lines.join('\n'));
    assert.ok(lines.includes(`rollout ${n} healthy 0->1`), lines.join('\n'));
  }
  assert.ok(lines.includes('rollout rollout started 0->0') && lines.includes('rollout rollout done 0->0'), lines.join('\n'));
  const table2 = await muster(['history', '--node', 'r2', '--limit', '1']);
  assert.match(table2.stdout, /^WHEN\s+OPERATOR\s+ACTION.*\n\S+ \S+Z\s+\S+@\S+\s+rollout\s+\S+\s+r2\s+healthy\s+0 → 1\s+$/);
});

let budgetRollout = '';
test('rollout: a failing node spends the budget of 0: the rollout pauses (exit 3) and nothing after it is dispatched; undo brings generation 1 back', async () => {
  const out = await muster(['rollout', '-t', await tasks('two', 'r2'), '--batch', '1', '--yes', ...fast]);
  assert.equal(out.code, 3, out.stdout + out.stderr);
  assert.match(out.stdout, /r2: failed: failed: task bad: PATH_NOT_ALLOWED/);
  assert.match(out.stdout, /paused: error budget spent: 1 node\(s\) failed, at most 0 allowed \(r2\)/);
  assert.match(out.stdout, /"muster rollout resume \S+" goes on/);
  const j = journalOf()!;
  budgetRollout = j.id;
  assert.deepEqual(j.entries.filter((e) => e.step === 'dispatched').map((e) => e.node), ['r1', 'r2'], 'r3 and r4 never dispatched');
  assert.deepEqual(await hosts(), ['two\n', 'one\n', 'one\n', 'one\n'], 'the agent refused r2\'s whole plan before running it; r3, r4 untouched');

  const undo = await muster(['rollout', 'undo', '--yes', ...fast.slice(0, 0)]);
  assert.equal(undo.code, 0, undo.stdout + undo.stderr);
  assert.deepEqual(await hosts(), names.map(() => 'one\n'));
  const r1 = (await history('--node', 'r1')).map((e) => `${e.action} ${e.result} ${e.generationBefore}->${e.generationAfter}`);
  assert.deepEqual(r1.slice(0, 2), ['undo healthy 2->1', 'rollout healthy 1->2']);
  const all = await history();
  assert.ok(all.some((e) => e.action === 'abort' && e.subject === budgetRollout), 'the paused rollout was aborted so it cannot be resumed over the undo');
  const resume = await muster(['rollout', 'resume', budgetRollout]);
  assert.equal(resume.code, 1);
  assert.match(resume.stderr, /ROLLOUT_REFUSED: rollout \S+ is aborted: nothing to resume/);
});

test('rollout: --canary 1 pauses after the first worker (exit 3) until "muster rollout resume"', async () => {
  const out = await muster(['rollout', '-t', await tasks('three'), '--canary', '1', '--batch', '2', '--yes', ...fast]);
  assert.equal(out.code, 3, out.stdout + out.stderr);
  assert.match(out.stdout, /wave 0: canary 1 worker\(s\): r1 \(then pause: canary\)\n\[rollout\] wave 1: workers batch 1: r2, r3\n/);
  assert.match(out.stdout, /paused: canary: 1 worker\(s\) done/);
  assert.deepEqual(await hosts(), ['three\n', 'one\n', 'one\n', 'one\n']);
  const status = await muster(['rollout', 'status']);
  assert.match(status.stdout, /: paused: canary/);
  assert.match(status.stdout, /^r2\s+1\s+pending/m);
  const another = await muster(['rollout', '-t', await tasks('other'), '--yes', ...fast]);
  assert.equal(another.code, 1);
  assert.match(another.stderr, /ROLLOUT_REFUSED: rollout \S+ is paused \(canary: .*\): "muster rollout resume", "muster rollout undo" or "muster rollout abort" it before starting another; nothing was sent/);
  assert.deepEqual(await hosts(), ['three\n', 'one\n', 'one\n', 'one\n']);
  const watch = await muster(['rollout', 'status', '-w']);
  assert.equal(watch.code, 3, 'status -w of a paused rollout ends at once, exit 3');
  const resume = await muster(['rollout', 'resume']);
  assert.equal(resume.code, 0, resume.stdout + resume.stderr);
  assert.doesNotMatch(resume.stdout, /r1: dispatched/, 'the canary is not applied again');
  assert.deepEqual(await hosts(), names.map(() => 'three\n'));
});

test('rollout: the CLI killed with SIGKILL mid-rollout; a second controller is refused meanwhile; resume finishes with no node applied twice', async () => {
  const before = await applies();
  const previous = journalOf()?.id;
  const cli = spawn(process.execPath, [path.join(repoRoot, 'bin/muster.js'), '-s', f.state, '-i', f.inventoryFile, 'rollout', '-t', await tasks('four', undefined, 1500), '--batch', '1', '--yes', '--soak', 'worker=500ms', '--gate-timeout', '20s', '--poll', '100ms'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => cli.once('exit', () => r()));
  const dispatched = async (n: number) => {
    for (let i = 0; i < 300; i++) {
      const j = journalOf();
      if (j && j.id !== previous && j.entries.filter((e) => e.step === 'dispatched').length >= n) return j;
      await delay(20);
    }
    throw new Error(`no ${n} dispatch(es) in the journal`);
  };
  await dispatched(1);

  // Two controllers never drive a rollout at once: the second names the holder.
  const second = await muster(['rollout', 'resume']);
  assert.equal(second.code, 1, second.stdout + second.stderr);
  assert.match(second.stderr, new RegExp(`ROLLOUT_LOCKED: another muster is running a new rollout: pid ${cli.pid} on ${os.hostname().replace(/\./g, '\\.')} `));

  const apply = await muster(['apply', '-t', await tasks('four', undefined, 1500)]);
  assert.equal(apply.code, 1);
  assert.match(apply.stderr, new RegExp(`ROLLOUT_LOCKED: another muster is running a new rollout: pid ${cli.pid} `), 'apply waits for no rollout either');

  const j = await dispatched(2);
  // Killed while r2's apply is in flight: the agent has taken it (its task takes 1.5 s), not
  // merely the journal written before the call left.
  const r2 = j.entries.filter((e) => e.step === 'dispatched').at(-1)!.node;
  for (let i = 0; i < 300 && (await applies())[r2] === before[r2]; i++) await delay(10);
  assert.ok((await applies())[r2] > before[r2], `${r2} received its apply`);
  cli.kill('SIGKILL');
  await exited;
  assert.equal(journalOf()!.state, 'running', 'killed, not ended');
  assert.ok(!j.entries.some((e) => e.node === 'r4'), 'killed before the last node');

  // The dead pid's lock is taken over; the node in flight is checked again, not assumed.
  const resume = await muster(['rollout', 'resume']);
  assert.equal(resume.code, 0, resume.stdout + resume.stderr);
  assert.match(resume.stdout, /^\[wait\] \S+ r4: waiting on soak: passing since \S+; soak 500 ms \(since \S+, \d+ s\)$/m, 'every wait is shown: node, probe, last word, since when');
  assert.match(resume.stdout, /r2: applied: checked again on resume: already applied/, 'killed while r2\'s apply was in flight: checked, not applied again');
  assert.deepEqual(await hosts(), names.map(() => 'four\n'));
  const after = await applies();
  assert.deepEqual(names.map((n) => after[n] - before[n]), [1, 1, 1, 1], 'each agent applied once');
  const entries = journalOf()!.entries;
  for (const n of names) assert.equal(entries.filter((e) => e.node === n && e.step === 'healthy').length, 1, n);
  // One worker in flight at a time (--batch 1), across the kill: no node dispatched before the previous one was healthy.
  const order = entries.filter((e) => e.step === 'dispatched' || e.step === 'healthy').map((e) => `${e.node} ${e.step}`);
  const firstDispatch = names.map((n) => order.indexOf(`${n} dispatched`));
  const healthyAt = names.map((n) => order.indexOf(`${n} healthy`));
  for (let i = 1; i < names.length; i++) assert.ok(healthyAt[i - 1] < firstDispatch[i], order.join('\n'));
});

test('apply: plans recorded by generation and sent with it; a stale state folder is refused with STALE_GENERATION, the hosts untouched', async () => {
  const stale = path.join(f.dir, 'stale-state');
  await fs.cp(f.state, stale, { recursive: true });
  const store = openStore(stale);
  store.db.exec('DELETE FROM plans WHERE generation > 1');
  store.close();

  const out = await muster(['apply', '-t', await tasks('five')]);
  assert.equal(out.code, 0, out.stdout + out.stderr);
  const gens = (await history('--node', 'r1')).slice(0, 2).map((e) => `${e.action} ${e.result} ${e.generationBefore}->${e.generationAfter}`);
  assert.deepEqual(gens, ['apply changed 4->5', 'plan recorded 4->5']);

  // A controller whose database is behind (a restored backup) sends generation 2 < 5.
  const old = await muster(['apply', '-t', await tasks('six')], stale);
  assert.equal(old.code, 1);
  assert.match(old.stdout, /^r1\s+failed\s/m, 'refused, not unreachable');
  assert.match(old.stdout, /r1: .*r1 \(127\.0\.0\.1:\d+\) answered FAILED_PRECONDITION: STALE_GENERATION: plan generation 2 is older than generation 5 applied on this node; only a rollback may send it/);
  assert.deepEqual(await hosts(), names.map(() => 'five\n'));
});

test('rollout undo --to-generation: every node of the last rollout gets generation 1 back, which the agents at generation 5 take only as a rollback; pause with nothing running says so', async () => {
  const undo = await muster(['rollout', 'undo', '--to-generation', '1', '--yes', '--gate-timeout', '20s', '--poll', '100ms']);
  assert.equal(undo.code, 0, undo.stdout + undo.stderr);
  assert.deepEqual(await hosts(), names.map(() => 'one\n'));
  const r3 = (await history('--node', 'r3'))[0];
  assert.deepEqual([r3.action, r3.result, r3.generationAfter], ['undo', 'healthy', 1]);

  const pause = await muster(['rollout', 'pause']);
  assert.equal(pause.code, 1);
  assert.match(pause.stderr, /ROLLOUT_NOT_FOUND: no running rollout in this state folder: give its id/);
});

test('rollout abort: a paused canary rollout is ended for good; nothing after the canary is sent', async () => {
  const before = await hosts();
  const out = await muster(['rollout', '-t', await tasks('seven'), '--canary', '1', '--batch', '2', '--yes', ...fast]);
  assert.equal(out.code, 3, out.stdout + out.stderr);
  const abort = await muster(['rollout', 'abort']);
  assert.equal(abort.code, 0, abort.stdout + abort.stderr);
  const status = await muster(['rollout', 'status']);
  assert.match(status.stdout, /aborted/);
  assert.deepEqual((await hosts()).slice(1), before.slice(1), 'the workers after the canary are untouched');
});
