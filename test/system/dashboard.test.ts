// The dashboard in a real browser: Debian's chromium driven by playwright-core, with an
// operator's and a reader's client certificate, against a real `muster serve` (HTTPS, mutual TLS)
// watching six real musterd processes on loopback (mTLS gRPC). The workers' kubelet probe polls a
// stand-in kubelet /healthz (no kubelet on this machine), turned sick per node by the test.
// Needs Debian's chromium (test/system/install-packages.sh).
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { openStore } from '../../controller/store/sqlite.js';
import { spawnAgents } from '../helpers/fleet.js';
import { dashboardFleet, launchChromium, MANAGED_FILE, startServe, withCert, type DashboardFleet, type Serve } from './helpers/dashboard.js';

const NODES = [1, 2, 3, 4, 5, 6].map((i) => ({ roles: ['worker'], labels: { rack: i <= 3 ? 'a' : 'b' } }));
const names = NODES.map((_, i) => `db${i + 1}`);

let fleet: DashboardFleet;
let agents: Awaited<ReturnType<typeof spawnAgents>>;
let serve: Serve;
let browser: Browser;
let operator: BrowserContext;
let page: Page;

const row = (p: Page, node: string) => p.locator(`table.fleet tr[data-node="${node}"]`);
const latestRollout = () => {
  const store = openStore(fleet.f.state);
  try {
    return store.db.prepare('SELECT id, state, reason FROM rollouts ORDER BY created_at_ms DESC, rowid DESC LIMIT 1').get() as { id: string; state: string; reason: string } | undefined;
  } finally {
    store.close();
  }
};
const onHost = (node: string) => fs.readFile(path.join(fleet.f.nodeRoot(node), MANAGED_FILE), 'utf8').catch(() => '(absent)');

before(async () => {
  // A port drawn free can be taken by another test before its agent listens: draw again.
  for (let attempt = 1; ; attempt++) {
    fleet = await dashboardFleet(NODES, 'db');
    try {
      agents = await spawnAgents(fleet.f);
      break;
    } catch (err) {
      await fleet.close();
      await fleet.f.cleanup();
      if (attempt === 3) throw err;
    }
  }
  const applied = await fleet.muster('apply', '-t', await fleet.tasks('one'));
  assert.equal(applied.code, 0, applied.stdout + applied.stderr);
  serve = await startServe(fleet.f);
  browser = await launchChromium();
  operator = await withCert(browser, serve.url, fleet.certs.operator);
  page = await operator.newPage();
});

after(async () => {
  await browser?.close();
  await serve?.stop();
  await fleet?.close();
  await agents?.stop();
  await fleet?.f.cleanup();
});

test('dashboard: the page loads over mutual TLS and lists every node, ready, with its probe', async () => {
  const res = await page.goto(serve.url);
  assert.equal(res?.status(), 200);
  assert.match(res!.headers()['content-security-policy'], /default-src 'none'/);
  for (const n of names) await row(page, n).locator('.badge.ready').waitFor({ timeout: 20_000 });
  assert.equal(await page.locator('table.fleet tr[data-node]').count(), names.length);
  assert.match(await row(page, 'db1').innerText(), /db1[\s\S]*worker[\s\S]*ready[\s\S]*1\/1 healthy/);
  assert.match(await page.locator('.who').innerText(), /ana \(operator\)/);
  await page.locator('.link-live').waitFor();
  // Filters: by label, then by state, through the labelled controls a keyboard user has.
  await page.getByLabel('Label').selectOption('rack=b');
  assert.deepEqual(await page.locator('table.fleet tr[data-node]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-node'))), ['db4', 'db5', 'db6']);
  await page.getByLabel('State').selectOption('unreachable');
  await page.getByText('No node matches the filter.').waitFor();
  await page.getByRole('button', { name: 'Clear' }).click();
  assert.equal(await page.locator('table.fleet tr[data-node]').count(), names.length);
});

test('dashboard: a drift repair shows in its row and the drift list live, without a reload', async () => {
  await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
  assert.equal(await row(page, 'db2').locator('td.drift').innerText(), '0');
  await fs.writeFile(path.join(fleet.f.nodeRoot('db2'), MANAGED_FILE), 'edited behind muster\n');
  await row(page, 'db2').locator('td.drift', { hasText: /1 repaired · app\.conf changed/ }).waitFor({ timeout: 15_000 });
  await page.locator('.drift-feed li', { hasText: /db2 app\.conf changed .* ago, repaired/ }).waitFor();
  assert.equal(await onHost('db2'), 'one\n', 'the agent put the file back');
  assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true, 'the page was not reloaded');
});

test('dashboard: 1,000 nodes (six agents, the rest refusing on loopback) stay a page of rows, filterable and scrollable', async () => {
  // A second controller on a copy of the fleet PKI, its inventory the six agents and 994 nodes
  // whose addresses refuse connections, as a large fleet's powered-off racks would.
  const state = path.join(fleet.f.dir, 'state-1000');
  await fs.cp(path.join(fleet.f.state, 'pki'), path.join(state, 'pki'), { recursive: true });
  const unreachable = Array.from({ length: 994 }, (_, i) => `  - { name: x${i + 1}, address: 127.0.${2 + Math.floor(i / 250)}.${1 + (i % 250)}, agentPort: 9, roles: [worker], labels: { rack: r${i % 20} } }`);
  const inventoryFile = path.join(fleet.f.dir, 'inventory-1000.yaml');
  await fs.writeFile(inventoryFile, `${await fs.readFile(fleet.f.inventoryFile, 'utf8')}${unreachable.join('\n')}\n`);
  const big = await startServe({ ...fleet.f, state, inventoryFile });
  const ctx = await withCert(browser, big.url, fleet.certs.operator);
  const p = await ctx.newPage();
  try {
    await p.goto(big.url);
    await p.locator('.summary', { hasText: '1000 nodes' }).waitFor({ timeout: 20_000 });
    // The six agents come first (db before x); the one that answers first carries the live check.
    const readyRow = p.locator('table.fleet tr[data-node^="db"]:has(.badge.ready)').first();
    await readyRow.waitFor({ timeout: 60_000 });
    const live = (await readyRow.getAttribute('data-node'))!;
    const rows = () => p.locator('table.fleet tr[data-node]').count();
    assert.ok((await rows()) < 60, `only the rows in view are in the page (${await rows()})`);
    assert.equal(await p.locator('table.fleet').getAttribute('aria-rowcount'), '1001');
    await p.locator('.scroller').evaluate((el) => (el.scrollTop = el.scrollHeight));
    await row(p, 'x994').waitFor();
    assert.ok((await rows()) < 60);
    // rack r7: 50 of the refusing nodes (the agents are racks a and b).
    await p.getByLabel('Label').selectOption('rack=r7');
    await p.locator('.filters output', { hasText: '50 of 1000 nodes' }).waitFor();
    await p.getByLabel('State').selectOption('unreachable');
    await p.locator('.filters output', { hasText: '50 of 1000 nodes' }).waitFor();
    await p.getByLabel('State').selectOption('ready');
    await p.getByText('No node matches the filter.').waitFor();
    await p.getByLabel('Label').selectOption('');
    await row(p, live).waitFor();
    assert.deepEqual(await p.locator('table.fleet tr[data-node] .badge').evaluateAll((b) => [...new Set(b.map((x) => x.textContent))]), ['ready']);
    await p.getByRole('button', { name: 'Clear' }).click();
    // Live at that size too: a repair on that agent reaches its row.
    await p.getByLabel('Name or address').fill(live);
    await p.locator('.filters output', { hasText: '1 of 1000 nodes' }).waitFor();
    await row(p, live).waitFor();
    assert.equal(await rows(), 1);
    const repaired = async () => Number(/^(\d+) repaired/.exec(await row(p, live).locator('td.drift').innerText())?.[1] ?? 0);
    const before = await repaired();
    await fs.writeFile(path.join(fleet.f.nodeRoot(live), MANAGED_FILE), 'edited again\n');
    await row(p, live).locator('td.drift', { hasText: new RegExp(`^${before + 1} repaired`) }).waitFor({ timeout: 15_000 });
  } finally {
    await ctx.close();
    await big.stop();
  }
});

test('dashboard: a rollout waiting on a node is paused from the page, and the store says paused', async () => {
  fleet.sick.add('db4');
  const rollout = fleet.start('rollout', '-t', await fleet.tasks('two'), '--batch', '2', '--yes', '--soak', 'worker=0', '--gate-timeout', '5m', '--poll', '100ms');
  const wait = page.locator('ul.waits li', { hasText: /db4 waits on kubelet for \d+s: last error/ });
  await wait.waitFor({ timeout: 30_000 });
  assert.match(await wait.innerText(), /503/);
  await page.locator('ol.waves li.wave').first().waitFor();
  assert.equal(await page.locator('ol.waves li.wave').count(), 3, 'three waves of two workers');
  const id = latestRollout()!.id;
  await page.getByLabel('Reason').fill('db4 looks sick');
  await page.getByRole('button', { name: 'Pause' }).click();
  await page.locator('.rollout-head .badge.paused').waitFor();
  await page.getByRole('button', { name: 'Resume' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Pause' }).count(), 0);
  const stored = latestRollout()!;
  assert.equal(stored.id, id);
  assert.equal(stored.state, 'paused');
  assert.match(stored.reason, /paused by ana@api 127\.0\.0\.1: db4 looks sick/);
  // The gate passes; the runner sees the pause before its next dispatch and stops there.
  fleet.sick.delete('db4');
  const ended = await rollout.done;
  assert.equal(ended.code, 3, ended.out);
  assert.deepEqual(await Promise.all(names.map(onHost)), ['two\n', 'two\n', 'two\n', 'two\n', 'one\n', 'one\n'], 'nothing was sent after the pause');
  await page.locator('table.small td', { hasText: 'pause' }).first().waitFor({ timeout: 10_000 });
});

test('dashboard: a reader sees the rollout without any button, and a forced POST is refused', async () => {
  const reader = await withCert(browser, serve.url, fleet.certs.reader);
  try {
    const p = await reader.newPage();
    await p.goto(serve.url);
    await p.locator('.rollout-head .badge.paused').waitFor({ timeout: 15_000 });
    await p.locator('.who', { hasText: 'rita (reader, read only)' }).waitFor();
    assert.equal(await p.getByRole('button', { name: /^(Pause|Resume|Abort)$/ }).count(), 0);
    const id = latestRollout()!.id;
    const forced = await p.evaluate(async (rid) => {
      const res = await fetch(`/v1/rollouts/${rid}/abort`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"reason":"forced"}' });
      return { status: res.status, body: (await res.json()) as { error: string } };
    }, id);
    assert.equal(forced.status, 403);
    assert.equal(forced.body.error, 'ROLE_REFUSED');
    assert.equal(latestRollout()!.state, 'paused', 'the refused abort changed nothing');
  } finally {
    await reader.close();
  }
});

test('dashboard: the paused rollout is resumed from the page; muster serve finishes it and the page shows it done, live', async () => {
  const id = latestRollout()!.id;
  await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
  // By keyboard: the buttons are real buttons.
  await page.getByRole('button', { name: 'Resume' }).focus();
  await page.keyboard.press('Enter');
  await page.locator('.rollout-head .badge.done').waitFor({ timeout: 60_000 });
  assert.deepEqual({ ...latestRollout() }, { id, state: 'done', reason: '' });
  assert.deepEqual(await Promise.all(names.map(onHost)), names.map(() => 'two\n'));
  assert.equal(await page.getByRole('button', { name: /^(Pause|Resume|Abort)$/ }).count(), 0, 'a finished rollout has nothing to act on');
  await page.locator('.history-box td', { hasText: /^resume$/ }).first().waitFor({ timeout: 10_000 });
  assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true, 'the page was not reloaded');
});

test('dashboard: a rollout muster serve runs shows its wait from the events and is aborted from the page, after asking', async () => {
  fleet.sick.add('db3');
  const lastWave = await Promise.all(['db5', 'db6'].map(onHost));
  const started = await page.evaluate(async (tasks) => {
    const res = await fetch('/v1/rollouts', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tasks, options: { batch: '2', soakMs: { worker: 0 }, gateTimeoutMs: { worker: 300_000 }, pollMs: 100 } }),
    });
    return { status: res.status, body: (await res.json()) as { job?: { id: string } } };
  }, await fleet.tasks('three'));
  assert.equal(started.status, 202, JSON.stringify(started.body));
  await page.locator('ul.waits li', { hasText: /db3 waits on kubelet for \d+s: last error/ }).waitFor({ timeout: 30_000 });
  const id = latestRollout()!.id;
  let asked = '';
  page.once('dialog', (d) => {
    asked = d.message();
    void d.accept();
  });
  await page.getByRole('button', { name: 'Abort' }).click();
  await page.locator('.rollout-head .badge.aborted').waitFor({ timeout: 15_000 });
  assert.match(asked, new RegExp(`Abort rollout ${id}\\? Nothing more is dispatched and it cannot be resumed`));
  const stored = latestRollout()!;
  assert.equal(stored.id, id);
  assert.equal(stored.state, 'aborted');
  assert.equal(await page.getByRole('button', { name: /^(Pause|Resume|Abort)$/ }).count(), 0);
  // The gate passes now; the job's runner sees the abort and ends without sending anything more.
  fleet.sick.delete('db3');
  const job = await page.evaluate(async (jobId) => {
    for (;;) {
      const j = (await (await fetch(`/v1/jobs/${jobId}`)).json()) as { state: string };
      if (j.state !== 'running') return j;
      await new Promise((r) => setTimeout(r, 100));
    }
  }, started.body.job!.id);
  assert.notEqual(job.state, 'running');
  assert.deepEqual(await Promise.all(['db5', 'db6'].map(onHost)), lastWave);
  assert.notEqual(lastWave[0], 'three\n');
});

test('dashboard: without a client certificate the page is refused', async () => {
  const anonymous = await withCert(browser, serve.url);
  try {
    const res = await (await anonymous.newPage()).goto(serve.url);
    assert.equal(res?.status(), 401);
    assert.match(await res!.text(), /NOT_AUTHENTICATED/);
  } finally {
    await anonymous.close();
  }
});
