import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  createDiscoveryToken,
  discoveryUrl,
  parseClusterSize,
  registerDiscoveryRoutes,
  type DiscoveryRouteOptions,
} from './server.js';
import { DiscoveryStore } from './store.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const SECRET = 'operator-secret-for-tests';
const AUTH = { authorization: `Bearer ${SECRET}` };

async function setup(
  t: TestContext,
  options: DiscoveryRouteOptions = {},
  store = new DiscoveryStore(),
): Promise<{ app: FastifyInstance; store: DiscoveryStore }> {
  const app = Fastify();
  await registerDiscoveryRoutes(app, store, { operatorSecret: SECRET, ...options });
  t.after(() => app.close());
  return { app, store };
}

// The exact request etcd 3.4's discovery client sends to register a member.
function register(app: FastifyInstance, token: string, id: string, value: string, base = '') {
  return app.inject({
    method: 'PUT',
    url: `${base}/${token}/${id}?prevExist=false`,
    headers: FORM,
    payload: new URLSearchParams({ value }).toString(),
  });
}

describe('POST /new', () => {
  it('creates a token and answers its URL as text, like discovery.etcd.io/new', async (t) => {
    const { app, store } = await setup(t);
    for (const method of ['POST', 'PUT', 'GET'] as const) {
      const res = await app.inject({ method, url: '/new?size=5', headers: { host: '10.1.2.3:8080', ...AUTH } });
      assert.equal(res.statusCode, 200, res.body);
      assert.match(String(res.headers['content-type']), /^text\/plain/);
      const m = /^http:\/\/10\.1\.2\.3:8080\/([0-9a-f]{32})$/.exec(res.body);
      assert.ok(m, res.body);
      assert.equal(store.tokenInfo(m[1])?.size, 5);
    }
  });

  it('defaults to size 3, reads a form body, and honours prefix and publicUrl', async (t) => {
    const { app, store } = await setup(t, { prefix: '/discovery/', publicUrl: 'https://ctl.example:9443/' });
    const res = await app.inject({ method: 'POST', url: '/discovery/new', headers: AUTH });
    assert.equal(res.statusCode, 200);
    const token = res.body.split('/').pop() ?? '';
    assert.equal(res.body, `https://ctl.example:9443/discovery/${token}`);
    assert.equal(store.tokenInfo(token)?.size, 3);
    const form = await app.inject({ method: 'POST', url: '/discovery/new', headers: { ...FORM, ...AUTH }, payload: 'size=7' });
    assert.equal(store.tokenInfo(form.body.split('/').pop() ?? '')?.size, 7);
    const size = await app.inject({ url: `/discovery/${token}/_config/size` });
    assert.equal(size.json().node.value, '3');
    assert.equal((await app.inject({ url: '/new' })).statusCode, 404, 'routes live under the prefix only');
  });

  it('rejects bad sizes with a clear 400', async (t) => {
    const { app, store } = await setup(t);
    for (const size of ['0', '16', '-1', 'abc', '2.5', '1e1', '99999999']) {
      const res = await app.inject({ method: 'POST', url: `/new?size=${encodeURIComponent(size)}`, headers: AUTH });
      assert.equal(res.statusCode, 400, `size=${size}`);
      assert.equal(res.body, 'size must be an integer from 1 to 15\n');
    }
    const twice = await app.inject({ method: 'POST', url: '/new?size=3&size=4', headers: AUTH });
    assert.equal(twice.statusCode, 400);
    assert.equal(store.listTokens().length, 0);
  });
});

describe('keys API as etcd 3.4 discovery uses it', () => {
  it('serves _config/size with X-Etcd-Index, under / and /v2/keys', async (t) => {
    const { app, store } = await setup(t);
    const token = createDiscoveryToken(store, 3);
    for (const base of ['', '/v2/keys']) {
      const res = await app.inject({ url: `${base}/${token}/_config/size?quorum=false&recursive=false&sorted=false` });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['x-etcd-index'], '1');
      assert.deepEqual(res.json(), {
        action: 'get',
        node: { key: `/${token}/_config/size`, value: '3', modifiedIndex: 1, createdIndex: 1 },
      });
    }
  });

  it('answers etcd-style 404s for unknown tokens and keys', async (t) => {
    const { app, store } = await setup(t);
    const token = createDiscoveryToken(store, 3);
    for (const url of ['/nosuchtoken/_config/size', '/nosuchtoken', '/v2/keys/nosuchtoken?wait=true']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 404, url);
      assert.equal(res.headers['x-etcd-index'], '1');
      assert.deepEqual(res.json(), { errorCode: 100, message: 'Key not found', cause: '/nosuchtoken', index: 1 });
    }
    const missing = await app.inject({ url: `/${token}/8e9e05c52164694d` });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().cause, `/${token}/8e9e05c52164694d`);
    const put = await register(app, 'nosuchtoken', 'a1', 'm=http://a:2380');
    assert.equal(put.statusCode, 404);
    assert.equal(put.json().errorCode, 100);
  });

  it('registers with 201 create, refuses a second registration with 412/105', async (t) => {
    const { app, store } = await setup(t);
    const token = createDiscoveryToken(store, 3);
    const first = await register(app, token, '8e9e05c52164694d', 'infra0=http://10.0.1.10:2380');
    assert.equal(first.statusCode, 201);
    assert.equal(first.headers['x-etcd-index'], '2');
    assert.deepEqual(first.json(), {
      action: 'create',
      node: {
        key: `/${token}/8e9e05c52164694d`,
        value: 'infra0=http://10.0.1.10:2380',
        modifiedIndex: 2,
        createdIndex: 2,
      },
    });
    const again = await register(app, token, '8e9e05c52164694d', 'infra0=http://10.0.1.10:2380', '/v2/keys');
    assert.equal(again.statusCode, 412);
    assert.deepEqual(again.json(), {
      errorCode: 105,
      message: 'Key already exists',
      cause: `/${token}/8e9e05c52164694d`,
      index: 2,
    });
  });

  it('refuses writes outside member keys and malformed writes', async (t) => {
    const { app, store } = await setup(t);
    const token = createDiscoveryToken(store, 3);
    const cases: { url: string; payload?: string; headers?: Record<string, string>; status: number; code: number }[] = [
      { url: `/${token}/_config/size`, payload: 'value=1', status: 403, code: 107 },
      { url: `/${token}/_config`, payload: 'value=1', status: 403, code: 107 },
      { url: `/${token}/a/b`, payload: 'value=1', status: 403, code: 107 },
      { url: `/${token}/a1?prevExist=false`, payload: '', status: 400, code: 200 },
      { url: `/${token}/a1?prevExist=maybe`, payload: 'value=x', status: 400, code: 209 },
      { url: `/${token}/a1?ttl=60`, payload: 'value=x', status: 400, code: 209 },
      { url: `/${token}/a1?prevExist=false`, payload: `value=${'x'.repeat(5000)}`, status: 400, code: 209 },
      { url: `/${token}/a1`, payload: 'value=x', headers: { 'content-type': 'text/plain' }, status: 400, code: 200 },
      { url: `/${token}/a1`, payload: '<x/>', headers: { 'content-type': 'application/xml' }, status: 415, code: 209 },
    ];
    for (const c of cases) {
      const res = await app.inject({ method: 'PUT', url: c.url, headers: c.headers ?? FORM, payload: c.payload });
      assert.equal(res.statusCode, c.status, `${c.url}: ${res.body}`);
      assert.equal(res.json().errorCode, c.code, c.url);
    }
    assert.equal(store.get(`/${token}/_config/size`).node.value, '3');
    assert.deepEqual(store.tokenInfo(token)?.members, []);
  });

  it('lists members without _config, recursive or not', async (t) => {
    const { app, store } = await setup(t);
    const token = createDiscoveryToken(store, 3);
    await register(app, token, 'aa', 'm1=http://a:2380');
    await register(app, token, 'bb', 'm2=http://b:2380');
    for (const query of ['', '?recursive=true', '?recursive=false&sorted=false&quorum=false']) {
      const res = await app.inject({ url: `/${token}${query}` });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['x-etcd-index'], '3');
      const body = res.json();
      assert.equal(body.action, 'get');
      assert.equal(body.node.key, `/${token}`);
      assert.equal(body.node.dir, true);
      assert.deepEqual(
        body.node.nodes.map((n: { key: string; value: string }) => [n.key, n.value]),
        [
          [`/${token}/aa`, 'm1=http://a:2380'],
          [`/${token}/bb`, 'm2=http://b:2380'],
        ],
      );
    }
    const bad = await app.inject({ url: `/${token}?recursive=yes` });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().errorCode, 209);
    const badIndex = await app.inject({ url: `/${token}?wait=true&waitIndex=abc` });
    assert.equal(badIndex.statusCode, 400);
    assert.equal(badIndex.json().errorCode, 203);
  });
});

describe('long-poll watches', () => {
  it('returns an old event at once (createSelf) and parks until the next registration (waitNodes)', async (t) => {
    const { app, store } = await setup(t);
    const token = createDiscoveryToken(store, 3);
    await register(app, token, 'aa', 'm1=http://a:2380');
    const self = await app.inject({ url: `/${token}/aa?wait=true&waitIndex=2&recursive=false` });
    assert.equal(self.statusCode, 200);
    assert.equal(self.json().node.key, `/${token}/aa`);

    const parked = app.inject({ url: `/${token}?wait=true&waitIndex=3&recursive=true` });
    await waitFor(() => store.watcherCount === 1);
    await register(app, token, 'bb', 'm2=http://b:2380');
    const res = await parked;
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-etcd-index'], '3');
    assert.deepEqual(res.json(), {
      action: 'create',
      node: { key: `/${token}/bb`, value: 'm2=http://b:2380', modifiedIndex: 3, createdIndex: 3 },
    });
    assert.equal(store.watcherCount, 0);
  });

  it('answers an expired wait with an empty 200 so etcd re-issues it', async (t) => {
    const { app, store } = await setup(t, { maxWaitMs: 30 });
    const token = createDiscoveryToken(store, 3);
    const res = await app.inject({ url: `/${token}?wait=true&waitIndex=2&recursive=true` });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, '');
    assert.equal(res.headers['x-etcd-index'], '1');
    assert.equal(store.watcherCount, 0);
  });

  it('answers parked waits when the app closes', async (t) => {
    const store = new DiscoveryStore();
    const app = Fastify();
    await registerDiscoveryRoutes(app, store, { maxWaitMs: 0 });
    t.after(() => app.close());
    const token = createDiscoveryToken(store, 3);
    const parked = app.inject({ url: `/${token}?wait=true&recursive=true` });
    await waitFor(() => store.watcherCount === 1);
    const started = Date.now();
    await app.close();
    const res = await parked;
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, '');
    assert.ok(Date.now() - started < 2000);
    assert.equal(store.watcherCount, 0);
  });

  it('closes promptly over a real keep-alive socket with a parked wait', async (t) => {
    const store = new DiscoveryStore();
    const app = Fastify();
    await registerDiscoveryRoutes(app, store, { maxWaitMs: 0 });
    t.after(() => app.close());
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const token = createDiscoveryToken(store, 3);
    const parked = fetch(`${address}/${token}?wait=true&recursive=true`);
    await waitFor(() => store.watcherCount === 1);
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      app.close().then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 3000))),
    ]);
    clearTimeout(timer);
    assert.equal(closed, true, 'app.close() hung on the parked watch');
    const res = await parked;
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('connection'), 'close');
    assert.equal(await res.text(), '');
  });

  it('drops the watcher and its timer when the client disconnects', async (t) => {
    const { app, store } = await setup(t, { maxWaitMs: 60_000 });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const token = createDiscoveryToken(store, 3);
    const ac = new AbortController();
    const pending = fetch(`${address}/${token}?wait=true&waitIndex=2&recursive=true`, { signal: ac.signal });
    await waitFor(() => store.watcherCount === 1);
    ac.abort();
    await assert.rejects(pending, { name: 'AbortError' });
    await waitFor(() => store.watcherCount === 0);
    // A later registration must not trip over the abandoned request.
    const put = await fetch(`${address}/${token}/aa?prevExist=false`, {
      method: 'PUT',
      headers: FORM,
      body: 'value=m1%3Dhttp%3A%2F%2Fa%3A2380',
    });
    assert.equal(put.status, 201);
    // With a 60 s maxWait still armed, close() would hang the test if the timer leaked.
  });
});

describe('persistence through the HTTP API', () => {
  it('a restarted server keeps tokens and refuses re-registration', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muster-discovery-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'discovery.json');
    const { app } = await setup(t, {}, new DiscoveryStore({ persistPath: file }));
    const url = (await app.inject({ method: 'POST', url: '/new?size=3', headers: AUTH })).body;
    const token = url.split('/').pop() ?? '';
    assert.equal((await register(app, token, 'aa', 'm1=http://a:2380')).statusCode, 201);
    await app.close();

    const { app: again } = await setup(t, {}, new DiscoveryStore({ persistPath: file }));
    assert.equal((await again.inject({ url: `/${token}/_config/size` })).json().node.value, '3');
    assert.equal((await register(again, token, 'aa', 'm1=http://a:2380')).statusCode, 412);
    assert.equal((await register(again, token, 'bb', 'm2=http://b:2380')).json().node.createdIndex, 3);
  });
});

describe('helpers', () => {
  it('parseClusterSize and discoveryUrl', () => {
    assert.equal(parseClusterSize(undefined), 3);
    assert.equal(parseClusterSize(' 5 '), 5);
    assert.equal(parseClusterSize(15), 15);
    assert.throws(() => parseClusterSize(['3']), /size must be an integer from 1 to 15/);
    assert.throws(() => parseClusterSize('0'), RangeError);
    assert.equal(discoveryUrl('http://h:1/', 'abc'), 'http://h:1/abc');
    assert.equal(discoveryUrl('http://h:1', 'abc', 'disc/'), 'http://h:1/disc/abc');
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
