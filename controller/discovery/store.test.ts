import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DiscoveryStore, EtcdError, MAX_CLUSTER_SIZE, type V2Event } from './store.js';

function etcdError(code: number, status: number) {
  return (err: unknown) => {
    assert.ok(err instanceof EtcdError, `expected EtcdError, got ${String(err)}`);
    assert.equal(err.errorCode, code);
    assert.equal(err.status, status);
    return true;
  };
}

describe('DiscoveryStore tokens', () => {
  it('creates /<token>/_config/size and hides _config from listings', () => {
    const store = new DiscoveryStore();
    const token = store.createToken(3);
    assert.match(token, /^[0-9a-f]{32}$/);
    assert.equal(store.index, 1);
    const size = store.get(`/${token}/_config/size`);
    assert.equal(size.node.value, '3');
    assert.equal(size.node.key, `/${token}/_config/size`);
    for (const recursive of [false, true]) {
      const listing = store.get(`/${token}`, { recursive });
      assert.equal(listing.node.dir, true);
      assert.equal(listing.node.nodes, undefined, 'hidden _config must not be listed');
    }
    assert.deepEqual(store.tokenInfo(token), { token, size: 3, members: [], createdIndex: 1 });
  });

  it('rejects sizes outside 1..15 and reserved or malformed tokens', () => {
    const store = new DiscoveryStore();
    for (const size of [0, -1, MAX_CLUSTER_SIZE + 1, 2.5, Number.NaN]) {
      assert.throws(() => store.createToken(size), RangeError, `size ${size}`);
    }
    assert.throws(() => store.createToken(3, 'new'), RangeError);
    assert.throws(() => store.createToken(3, 'a/b'), RangeError);
    store.createToken(1, 'cluster-a');
    assert.throws(() => store.createToken(1, 'cluster-a'), etcdError(105, 412));
    assert.equal(store.index, 1, 'failed creates must not move the index');
  });

  it('deleteToken removes the token and wakes its watchers', async () => {
    const store = new DiscoveryStore();
    const token = store.createToken(3);
    const waiting = store.watch(`/${token}`, { recursive: true });
    assert.equal(store.deleteToken(token), true);
    const event = await waiting;
    assert.equal(event.action, 'delete');
    assert.equal(event.node.key, `/${token}`);
    assert.equal(store.hasToken(token), false);
    assert.equal(store.deleteToken(token), false);
  });
});

describe('DiscoveryStore keys', () => {
  it('create is 105 when present; update is 100 when absent; set does either', () => {
    const store = new DiscoveryStore();
    const token = store.createToken(3);
    const created = store.set(`/${token}/a1`, 'm1=http://10.0.0.1:2380', { prevExist: false });
    assert.equal(created.action, 'create');
    assert.equal(created.created, true);
    assert.equal(created.node.createdIndex, 2);
    assert.equal(created.node.modifiedIndex, 2);
    assert.throws(() => store.set(`/${token}/a1`, 'x', { prevExist: false }), etcdError(105, 412));
    assert.throws(() => store.set(`/${token}/zz`, 'x', { prevExist: true }), etcdError(100, 404));
    const updated = store.set(`/${token}/a1`, 'm1=http://10.0.0.9:2380', { prevExist: true });
    assert.equal(updated.action, 'update');
    assert.equal(updated.prevNode?.value, 'm1=http://10.0.0.1:2380');
    assert.equal(updated.node.createdIndex, 2);
    assert.equal(updated.node.modifiedIndex, 3);
    const set = store.set(`/${token}/b2`, 'm2=http://10.0.0.2:2380');
    assert.equal(set.action, 'set');
    assert.equal(set.created, true);
  });

  it('refuses to write over a directory or below a file', () => {
    const store = new DiscoveryStore();
    const token = store.createToken(3);
    assert.throws(() => store.set(`/${token}/_config`, 'x'), etcdError(102, 403));
    assert.throws(() => store.set(`/${token}/_config/size/deeper`, 'x'), etcdError(104, 403));
    assert.throws(() => store.set('/', 'x'), etcdError(107, 403));
  });

  it('names the first missing path component in "Key not found"', () => {
    const store = new DiscoveryStore();
    assert.throws(
      () => store.get('/nope/_config/size'),
      (err: unknown) => err instanceof EtcdError && err.errorCode === 100 && err.detail === '/nope',
    );
    const body = new EtcdError(100, '/nope', 7).toJSON();
    assert.deepEqual(body, { errorCode: 100, message: 'Key not found', cause: '/nope', index: 7 });
  });

  it('lists members in createdIndex order, sorted by key on request, and cleans paths', () => {
    const store = new DiscoveryStore();
    const token = store.createToken(3);
    store.set(`/${token}/ff`, 'a=http://a:2380', { prevExist: false });
    store.set(`/${token}/00`, 'b=http://b:2380', { prevExist: false });
    const listing = store.get(`//${token}/`);
    assert.deepEqual(
      listing.node.nodes?.map((n) => n.key),
      [`/${token}/ff`, `/${token}/00`],
    );
    assert.deepEqual(
      store.get(`/${token}`, { sorted: true }).node.nodes?.map((n) => n.key),
      [`/${token}/00`, `/${token}/ff`],
    );
    assert.equal(listing.index, 3);
  });
});

describe('DiscoveryStore watches', () => {
  it('answers from history when waitIndex is already past (etcd createSelf check)', async () => {
    const store = new DiscoveryStore();
    const token = store.createToken(3);
    const res = store.set(`/${token}/a1`, 'm1=http://a:2380', { prevExist: false });
    const event = await store.watch(`/${token}/a1`, { waitIndex: res.node.createdIndex });
    assert.equal(event.action, 'create');
    assert.equal(event.node.value, 'm1=http://a:2380');
    assert.equal(store.watcherCount, 0);
  });

  it('delivers the next child event to a recursive watch, skipping hidden keys', async () => {
    const store = new DiscoveryStore();
    const token = store.createToken(3);
    const events: V2Event[] = [];
    const waiting = store.watch(`/${token}`, { recursive: true, waitIndex: store.index + 1 }).then((e) => events.push(e));
    store.set(`/${token}/_config/other`, 'hidden');
    await Promise.resolve();
    assert.equal(events.length, 0, 'hidden keys must not reach recursive watchers');
    store.set(`/${token}/b2`, 'm2=http://b:2380', { prevExist: false });
    await waiting;
    assert.equal(events[0]?.node.key, `/${token}/b2`);
    assert.equal(store.watcherCount, 0);
  });

  it('a non-recursive watch ignores children', async () => {
    const store = new DiscoveryStore();
    const token = store.createToken(3);
    const ac = new AbortController();
    const waiting = store.watch(`/${token}`, { recursive: false }, ac.signal);
    store.set(`/${token}/c3`, 'm3=http://c:2380');
    assert.equal(store.watcherCount, 1);
    ac.abort(new Error('done'));
    await assert.rejects(waiting, /done/);
    assert.equal(store.watcherCount, 0);
  });

  it('aborting releases the watcher; an already aborted signal never registers', async () => {
    const store = new DiscoveryStore();
    const token = store.createToken(3);
    const ac = new AbortController();
    const waiting = store.watch(`/${token}`, { recursive: true }, ac.signal);
    assert.equal(store.watcherCount, 1);
    const reason = new Error('client gone');
    ac.abort(reason);
    await assert.rejects(waiting, (err) => err === reason);
    assert.equal(store.watcherCount, 0);
    await assert.rejects(store.watch(`/${token}`, {}, ac.signal), (err) => err === reason);
    assert.equal(store.watcherCount, 0);
  });

  it('reports 401 when waitIndex fell out of the history window', async () => {
    const store = new DiscoveryStore({ historyLimit: 2 });
    const token = store.createToken(5);
    for (const id of ['a', 'b', 'c']) store.set(`/${token}/${id}`, `${id}=http://${id}:2380`, { prevExist: false });
    await assert.rejects(store.watch(`/${token}`, { recursive: true, waitIndex: 2 }), (err: unknown) => {
      assert.ok(err instanceof EtcdError);
      assert.equal(err.errorCode, 401);
      assert.equal(err.status, 400);
      assert.match(err.detail, /\[3\/2\]/);
      return true;
    });
    const ok = await store.watch(`/${token}`, { recursive: true, waitIndex: 3 });
    assert.equal(ok.node.key, `/${token}/b`);
  });
});

describe('DiscoveryStore persistence', () => {
  it('keeps tokens, registrations, index and history across a restart', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muster-discovery-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'state', 'discovery.json');
    const first = new DiscoveryStore({ persistPath: file });
    const token = first.createToken(3);
    first.set(`/${token}/a1`, 'm1=http://a:2380', { prevExist: false });
    assert.equal((fs.statSync(file).mode & 0o777).toString(8), '600');

    const second = new DiscoveryStore({ persistPath: file });
    assert.equal(second.index, 2);
    assert.equal(second.get(`/${token}/_config/size`).node.value, '3');
    assert.deepEqual(second.tokenInfo(token)?.members, [{ id: 'a1', value: 'm1=http://a:2380', createdIndex: 2 }]);
    assert.throws(() => second.set(`/${token}/a1`, 'again', { prevExist: false }), etcdError(105, 412));
    // A member that was mid-wait when the controller restarted can resume from its index.
    const replay = await second.watch(`/${token}`, { recursive: true, waitIndex: 2 });
    assert.equal(replay.node.key, `/${token}/a1`);
    second.set(`/${token}/b2`, 'm2=http://b:2380', { prevExist: false });
    assert.equal(new DiscoveryStore({ persistPath: file }).index, 3);
  });

  it('starts empty when the file is missing and refuses a corrupt file', (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muster-discovery-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'discovery.json');
    assert.equal(new DiscoveryStore({ persistPath: file }).listTokens().length, 0);
    assert.equal(fs.existsSync(file), false, 'reading must not create the file');
    fs.writeFileSync(file, '{"version":1,"index":"x"}');
    assert.throws(() => new DiscoveryStore({ persistPath: file }));
    fs.writeFileSync(file, 'not json');
    assert.throws(() => new DiscoveryStore({ persistPath: file }), SyntaxError);
  });
});
