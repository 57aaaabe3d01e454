// What a stranger on the network (or another user of the controller's machine) tried against the
// discovery service: moving a registered member, over-filling a token, minting tokens, flooding.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import * as server from './server.js';
import { DiscoveryStore } from './store.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const SECRET = 'operator-secret-for-tests';

async function serve(t: TestContext, options: server.DiscoveryRouteOptions = { operatorSecret: SECRET }, store = new DiscoveryStore()): Promise<{ app: FastifyInstance; store: DiscoveryStore }> {
  const app = Fastify();
  await server.registerDiscoveryRoutes(app, store, options);
  t.after(() => app.close());
  return { app, store };
}

const put = (app: FastifyInstance, token: string, id: string, value: string, query = '') =>
  app.inject({ method: 'PUT', url: `/${token}/${id}${query}`, headers: FORM, payload: new URLSearchParams({ value }).toString() });

describe('discovery service under attack', () => {
  it('a plain PUT cannot move a registered member: 412 errorCode 105, the value stays', async (t) => {
    const { app, store } = await serve(t);
    const token = store.createToken(3);
    assert.equal((await put(app, token, 'm1', 'm1=http://10.0.0.1:2380', '?prevExist=false')).statusCode, 201);
    for (const query of ['', '?prevExist=true']) {
      const res = await put(app, token, 'm1', 'm1=http://10.6.6.6:2380', query);
      assert.ok([412, 403].includes(res.statusCode), `PUT${query}: ${res.statusCode}`);
    }
    const plain = await put(app, token, 'm1', 'm1=http://10.6.6.6:2380');
    assert.equal(plain.json().errorCode, 105, 'what etcd\'s client reads as a duplicate id');
    assert.deepEqual(store.tokenInfo(token)?.members.map((m) => m.value), ['m1=http://10.0.0.1:2380']);
  });

  it('a token takes at most size members; the next one is refused as full', async (t) => {
    const { app, store } = await serve(t);
    const token = store.createToken(3);
    const codes: number[] = [];
    for (let i = 1; i <= 11; i++) codes.push((await put(app, token, `id${i}`, `m${i}=http://10.0.0.${i}:2380`, '?prevExist=false')).statusCode);
    assert.deepEqual(codes, [201, 201, 201, 412, 412, 412, 412, 412, 412, 412, 412]);
    const full = await put(app, token, 'id12', 'm12=http://10.0.0.12:2380', '?prevExist=false');
    assert.deepEqual(full.json(), { errorCode: 101, message: 'Compare failed', cause: 'cluster full: 3 of 3 members registered', index: 4 });
    assert.equal(store.tokenInfo(token)?.members.length, 3);
    // The listing etcd's client reads: exactly size members, so a late member sees ErrFullCluster.
    assert.equal((await app.inject({ url: `/${token}` })).json().node.nodes.length, 3);
  });

  it('only the operator makes tokens: no secret, a wrong one, or a service without one is 401', async (t) => {
    const { app, store } = await serve(t);
    for (const authorization of [undefined, 'Bearer wrong', `Basic ${SECRET}`, SECRET]) {
      const res = await app.inject({ method: 'POST', url: '/new?size=3', headers: authorization ? { authorization } : {} });
      assert.equal(res.statusCode, 401, String(authorization));
    }
    assert.equal(store.listTokens().length, 0);
    const ok = await app.inject({ method: 'POST', url: '/new?size=3', headers: { authorization: `Bearer ${SECRET}` } });
    assert.equal(ok.statusCode, 200, ok.body);
    const { app: open } = await serve(t, {});
    const refused = await open.inject({ method: 'POST', url: '/new?size=3', headers: { authorization: 'Bearer anything' } });
    assert.equal(refused.statusCode, 401);
    assert.match(refused.body, /started without an operator secret/);
  });

  it('writes are rate limited per client and bodies are capped', async (t) => {
    const { app, store } = await serve(t, { operatorSecret: SECRET, rateLimit: { max: 5, timeWindowMs: 60_000 } });
    const token = store.createToken(15);
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) codes.push((await put(app, token, `id${i}`, `m${i}=http://10.0.0.${i}:2380`, '?prevExist=false')).statusCode);
    assert.deepEqual(codes, [201, 201, 201, 201, 201, 429, 429, 429]);
    const { app: other, store: otherStore } = await serve(t);
    const big = await put(other, otherStore.createToken(3), 'id1', 'x'.repeat(server.MAX_BODY_BYTES + 1), '?prevExist=false');
    assert.equal(big.statusCode, 413);
  });

  it('the default listen address is loopback', () => {
    assert.equal(server.DEFAULT_DISCOVERY_LISTEN, '127.0.0.1:2381');
  });

  it('a write appends one line instead of rewriting the whole state; a restart replays it', (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muster-discovery-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'discovery.json');
    const store = new DiscoveryStore({ persistPath: file, compactEvery: 50 });
    const tokens = Array.from({ length: 30 }, () => store.createToken(3));
    const snapshot = fs.statSync(file);
    const logBefore = fs.statSync(`${file}.log`).size;
    store.set(`/${tokens[0]}/a1`, 'm1=http://a:2380', { prevExist: false });
    assert.equal(fs.statSync(file).mtimeMs, snapshot.mtimeMs, 'the snapshot was not rewritten');
    const line = fs.statSync(`${file}.log`).size - logBefore;
    assert.ok(line > 0 && line < 300, `one short line appended (${line} bytes)`);
    const again = new DiscoveryStore({ persistPath: file, compactEvery: 50 });
    assert.equal(again.index, store.index);
    assert.deepEqual(again.tokenInfo(tokens[0])?.members.map((m) => m.value), ['m1=http://a:2380']);
    // Past compactEvery writes the log is folded into the snapshot and starts again.
    for (let i = 0; i < 25; i++) again.createToken(3);
    assert.ok(fs.statSync(`${file}.log`).size < 50 * 150, 'compacted');
    assert.equal(new DiscoveryStore({ persistPath: file }).listTokens().length, 55);
  });

  it('a torn last log line (a crash mid-append) is dropped; a bad line elsewhere stops the load', (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muster-discovery-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'discovery.json');
    const store = new DiscoveryStore({ persistPath: file });
    const token = store.createToken(3);
    fs.appendFileSync(`${file}.log`, '{"action":"create","node":{"key":"/x');
    assert.ok(new DiscoveryStore({ persistPath: file }).hasToken(token));
    fs.appendFileSync(`${file}.log`, '\n' + JSON.stringify({ action: 'create', node: { key: `/${token}/b`, value: 'b', modifiedIndex: 9, createdIndex: 9 } }) + '\n');
    assert.throws(() => new DiscoveryStore({ persistPath: file }), /discovery log .* line 2/);
  });
});
