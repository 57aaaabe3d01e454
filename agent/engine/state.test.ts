import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import { tempHost } from '../../test/helpers/host.js';
import { StateStore } from './state.js';

const plan = (revision: string) => Plan.fromPartial({ node: 'n1', revision, tasks: [] });
const state = (revision: string) => ({ plan: plan(revision), revision, appliedAtMs: 1 });

test('state: the plan before the current one is kept; the same plan again does not push it out', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const s = new StateStore(h.host);
  await s.load();
  await s.save(state('a'));
  assert.equal(await s.previousPlan(), undefined, 'nothing before the first');
  await s.save(state('b'));
  assert.equal((await s.previousPlan())?.revision, 'a');
  await s.save(state('b'));
  assert.equal((await s.previousPlan())?.revision, 'a', 'applying b again keeps a as the previous plan');
  for (const f of ['plan.pb', 'plan.previous.pb', 'status.json']) assert.equal((await fs.stat(h.host.statePath(f))).mode & 0o777, 0o600, f);
});

test('state: the applied generation survives a restart and a save of the next plan', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const s = new StateStore(h.host);
  await s.load();
  assert.equal(s.generation, 0);
  await s.save(state('a'));
  await s.setGeneration(7);
  await s.save(state('b'));
  const again = new StateStore(h.host);
  const loaded = await again.load();
  assert.equal(again.generation, 7);
  assert.equal(loaded.revision, 'b');
  assert.equal((await again.previousPlan())?.revision, 'a');
});

test('state: the same plan again is not rewritten, but a plan.pb removed or cut short is', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const s = new StateStore(h.host);
  await s.load();
  await s.save(state('a'));
  const file = h.host.statePath('plan.pb');
  const written = (await fs.stat(file)).ino;
  await s.save({ ...state('a'), appliedAtMs: 2 });
  assert.equal((await fs.stat(file)).ino, written, 'a no-op re-run leaves plan.pb as it was (no atomic replace)');
  assert.equal(JSON.parse(await fs.readFile(h.host.statePath('status.json'), 'utf8')).appliedAtMs, 2, 'the status is still recorded');
  await fs.truncate(file, 3);
  await s.save(state('a'));
  assert.equal((await new StateStore(h.host).load()).plan?.revision, 'a', 'a damaged plan.pb is written again');
  await fs.rm(file);
  await s.save(state('a'));
  assert.equal((await new StateStore(h.host).load()).plan?.revision, 'a', 'a removed plan.pb is written again');
  const reloaded = new StateStore(h.host);
  await reloaded.load();
  const before = (await fs.stat(file)).ino;
  await reloaded.save(state('a'));
  assert.equal((await fs.stat(file)).ino, before, 'after a restart too, the plan read back counts as written');
});

test('state: the state folder is made 0700, also when it was removed while the agent ran', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const s = new StateStore(h.host);
  await s.load();
  await s.save(state('a'));
  assert.equal((await fs.stat(h.host.statePath())).mode & 0o777, 0o700);
  await fs.rm(h.host.statePath(), { recursive: true });
  await s.setGeneration(3);
  assert.equal((await fs.stat(h.host.statePath())).mode & 0o777, 0o700);
  await s.save(state('b'));
  assert.equal((await new StateStore(h.host).load()).plan?.revision, 'b');
});

test('state: a plan saved with its generation is one status.json write; generation 0 keeps the one before', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const s = new StateStore(h.host);
  await s.load();
  await s.save(state('a'), 9);
  const status = h.host.statePath('status.json');
  const written = (await fs.stat(status)).ino;
  await s.setGeneration(9);
  assert.equal((await fs.stat(status)).ino, written, 'the generation was in the save: no second replace');
  const again = new StateStore(h.host);
  await again.load();
  assert.equal(again.generation, 9, 'the generation is on disk, not only in memory');
  await again.save(state('b'));
  assert.equal(again.generation, 9, 'a plain apply (generation 0) keeps the generation applied before');
  assert.equal(JSON.parse(await fs.readFile(status, 'utf8')).generation, 9);
  await again.save(state('c'), 4);
  const third = new StateStore(h.host);
  await third.load();
  assert.equal(third.generation, 4, 'a lower generation (a rollback) is recorded as sent');
});
