import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { stampManifest } from '../../common/manifest-hash.js';
import { ApplyMode, DriftPolicy, Plan, type DriftEvent } from '../../proto/gen/muster/agent/v1/agent.js';
import { silent, tempHost } from '../../test/helpers/host.js';
import { DriftWatcher } from './drift.js';

const manifest = 'apiVersion: v1\nkind: Pod\nmetadata: { name: etcd, namespace: kube-system }\nspec:\n  containers: [{ name: etcd, image: registry.k8s.io/etcd:3.5.15-0 }]\n';
// As the agent writes it: stamped with its hash.
const written = stampManifest(manifest).toString();

async function setup(t: { after(fn: () => Promise<void>): void }, policy = DriftPolicy.DRIFT_POLICY_ENFORCE) {
  const h = await tempHost();
  const events: DriftEvent[] = [];
  const waiters: (() => void)[] = [];
  const watcher = new DriftWatcher(h.engine, h.host, silent, (e) => {
    events.push(e);
    waiters.splice(0).forEach((w) => w());
  }, { debounceMs: 10, recheckMs: 3_600_000 });
  t.after(async () => {
    await watcher.close();
    await h.cleanup();
  });
  const plan = Plan.fromPartial({
    node: 'test',
    revision: 'r1',
    driftPolicy: policy,
    tasks: [
      { id: 'etcd', staticPod: { name: 'etcd', manifest } },
      { id: 'tokens', file: { path: '/srv/kubernetes/known_tokens.csv', content: Buffer.from('t0ken,u,1\n'), secret: true } },
    ],
  });
  await h.engine.run(plan, { mode: ApplyMode.APPLY_MODE_APPLY });
  await watcher.follow(h.engine.status.plan);
  const next = (ms = 5000) => new Promise<DriftEvent>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no drift event within ${ms} ms`)), ms);
    waiters.push(() => {
      clearTimeout(timer);
      resolve(events.at(-1)!);
    });
  });
  return { h, watcher, events, next };
}

const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));

test('drift: an outside edit is put back and reported', async (t) => {
  const { h, next, events } = await setup(t);
  const file = h.real('/etc/kubernetes/manifests/etcd.yaml');
  const seen = next();
  await fs.writeFile(file, manifest.replace('3.5.15-0', '3.4.0'));
  const e = await seen;
  assert.equal(e.taskId, 'etcd');
  assert.equal(e.path, '/etc/kubernetes/manifests/etcd.yaml');
  assert.equal(e.what, 'changed');
  assert.equal(e.repaired, true);
  assert.ok(e.repairUs > 0);
  assert.equal(await fs.readFile(file, 'utf8'), written);
  await settle();
  assert.equal(events.length, 1, 'the repair itself does not start another one');
});

test('drift: a deleted file comes back', async (t) => {
  const { h, next } = await setup(t);
  const seen = next();
  await fs.rm(h.real('/srv/kubernetes/known_tokens.csv'));
  const e = await seen;
  assert.deepEqual([e.taskId, e.what, e.repaired], ['tokens', 'deleted', true]);
  const st = await fs.stat(h.real('/srv/kubernetes/known_tokens.csv'));
  assert.equal(st.mode & 0o777, 0o600);
});

test('drift: a folder deleted whole comes back, and is watched again', async (t) => {
  const { h, next } = await setup(t);
  const seen = next();
  await fs.rm(h.real('/etc/kubernetes/manifests'), { recursive: true });
  assert.equal((await seen).taskId, 'etcd');
  await fs.access(h.real('/etc/kubernetes/manifests/etcd.yaml'));
  await settle(200);
  const again = next();
  await fs.writeFile(h.real('/etc/kubernetes/manifests/etcd.yaml'), 'garbage');
  assert.equal((await again).repaired, true);
  assert.equal(await fs.readFile(h.real('/etc/kubernetes/manifests/etcd.yaml'), 'utf8'), written);
});

test('drift: the report policy leaves the file and reports it', async (t) => {
  const { h, next } = await setup(t, DriftPolicy.DRIFT_POLICY_REPORT);
  const seen = next();
  await fs.writeFile(h.real('/etc/kubernetes/manifests/etcd.yaml'), 'edited by hand\n');
  const e = await seen;
  assert.equal(e.repaired, false);
  assert.equal(await fs.readFile(h.real('/etc/kubernetes/manifests/etcd.yaml'), 'utf8'), 'edited by hand\n');
});

test('drift: the agent\'s own writes start no repair', async (t) => {
  const { h, events } = await setup(t);
  // A controller apply of a new manifest writes the file; the watcher sees it and finds nothing to do.
  const plan = { ...h.engine.status.plan!, revision: 'r2' };
  plan.tasks = plan.tasks.map((x) => (x.staticPod ? { ...x, staticPod: { ...x.staticPod, manifest: manifest.replace('3.5.15-0', '3.5.16-0') } } : x));
  await h.engine.run(plan, { mode: ApplyMode.APPLY_MODE_APPLY });
  await settle(400);
  assert.equal(events.length, 0);
});

test('drift: the periodic re-check finds what no file event told', async (t) => {
  const { h, watcher } = await setup(t);
  await watcher.close();
  await fs.chmod(h.real('/srv/kubernetes/known_tokens.csv'), 0o644);
  const found = await watcher.reconcile('all');
  assert.deepEqual(found.map((e) => [e.taskId, e.what, e.repaired]), [['tokens', 'recheck', true]]);
  assert.equal((await fs.stat(h.real('/srv/kubernetes/known_tokens.csv'))).mode & 0o777, 0o600);
});

test('drift: an edit right after a repair (inside chokidar\'s 50 ms change throttle) is not lost', async (t) => {
  const { h, next } = await setup(t);
  const file = h.real('/etc/kubernetes/manifests/etcd.yaml');
  for (let i = 0; i < 5; i++) {
    const seen = next();
    await fs.writeFile(file, `edit ${i}\n`);
    await seen;
    // Straight after the repair, inside the window where chokidar drops change events.
    await fs.writeFile(file, `quick edit ${i}\n`);
    const deadline = Date.now() + 2000;
    while ((await fs.readFile(file, 'utf8')) !== written) {
      assert.ok(Date.now() < deadline, `quick edit ${i} was not repaired`);
      await settle(5);
    }
  }
});

test('drift: deletions one after another while the watch is rebuilt are all repaired', async (t) => {
  const { h, next } = await setup(t);
  const files = ['/etc/kubernetes/manifests/etcd.yaml', '/srv/kubernetes/known_tokens.csv'];
  for (let round = 0; round < 5; round++) {
    const first = next();
    await fs.rm(h.real(files[0]));
    await first;
    // Straight after the first repair, while the watcher is being rebuilt.
    await fs.rm(h.real(files[1]));
    const deadline = Date.now() + 2000;
    for (const f of files) {
      while (!(await fs.access(h.real(f)).then(() => true, () => false))) {
        assert.ok(Date.now() < deadline, `round ${round}: ${f} was not repaired`);
        await settle(5);
      }
    }
    await settle(50);
  }
});

test('drift: close() returns only once a repair in flight is done, so nothing writes to the host after it', async (t) => {
  const { h, watcher } = await setup(t);
  await fs.rm(h.real('/srv/kubernetes/known_tokens.csv'));
  let repaired = false;
  const repair = watcher.reconcile('all').then((found) => (repaired = found.some((e) => e.taskId === 'tokens' && e.repaired)));
  await watcher.close();
  assert.equal(repaired, true, 'the repair had finished when close() returned');
  await repair;
});
