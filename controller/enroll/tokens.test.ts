import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ControllerError } from '../errors.js';
import { FileTokenStore, TOKEN_FORMAT, checkScope, checkToken, consumeToken, createToken, deleteToken, findToken, listTokens } from './tokens.js';

const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'muster-tokens-'));
const code = (c: string) => (err: unknown) => err instanceof ControllerError && err.code === c;

test('tokens: id.secret of kubeadm\'s shape; only the id and a hash of the secret are stored, 0600', async () => {
  const d = dir();
  const store = new FileTokenStore(d);
  const { token, record } = await createToken(store, { node: 'n1' });
  assert.match(token, TOKEN_FORMAT);
  const [id, secret] = token.split('.');
  const text = fs.readFileSync(path.join(d, 'tokens.json'), 'utf8');
  assert.ok(text.includes(id));
  assert.ok(!text.includes(secret), 'the secret is not on disk');
  assert.equal(fs.statSync(path.join(d, 'tokens.json')).mode & 0o777, 0o600);
  assert.equal(record.usesLeft, 1);
  assert.equal(Date.parse(record.expiresAt) - Date.parse(record.createdAt), 3600_000, 'one hour by default');
  const listed = await listTokens(store);
  assert.equal(listed.length, 1);
  assert.equal('secretHash' in listed[0], false, 'listings never show the hash');
  assert.equal(await deleteToken(store, token), true);
  assert.deepEqual(await listTokens(store), []);
  assert.equal(await deleteToken(store, id), false);
});

test('tokens: a wrong secret, an unknown id, a malformed token, an expired and a used one are refused with their reason', async () => {
  const store = new FileTokenStore(dir());
  const now = Date.now();
  const { token } = await createToken(store, { ttlSeconds: 60 }, now);
  const rec = await findToken(store, token);
  assert.throws(() => checkToken('nope', rec), code('TOKEN_INVALID'));
  assert.throws(() => checkToken(token.slice(0, 7) + '0'.repeat(16), rec), code('TOKEN_INVALID'));
  assert.throws(() => checkToken('zzzzzz.' + token.slice(7), undefined), code('TOKEN_INVALID'));
  assert.throws(() => checkToken(token, rec, now + 61_000), code('TOKEN_EXPIRED'));
  await consumeToken(store, token);
  const spent = await findToken(store, token);
  assert.throws(() => checkToken(token, spent), code('TOKEN_USED'));
  await assert.rejects(consumeToken(store, token), code('TOKEN_USED'));
  await assert.rejects(createToken(store, { uses: 0 }), code('SPEC_INVALID'));
  await assert.rejects(createToken(store, { node: 'a', labels: { x: 'y' } }), code('SPEC_INVALID'));
});

test('tokens: twenty joins racing for three uses: exactly three win, in one process and across store instances', async () => {
  const d = dir();
  const store = new FileTokenStore(d);
  const { token } = await createToken(store, { uses: 3 });
  // Two store instances stand for two processes: only the lock file orders them.
  const other = new FileTokenStore(d);
  const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => consumeToken(i % 2 ? store : other, token)));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
  assert.ok(results.filter((r) => r.status === 'rejected').every((r) => code('TOKEN_USED')((r as PromiseRejectedResult).reason)));
  assert.equal((await findToken(store, token))?.usesLeft, 0);
});

test('tokens: a node-scoped token only for that name; a label-scoped one only for inventory nodes with the labels', async () => {
  const store = new FileTokenStore(dir());
  const { record: forNode } = await createToken(store, { node: 'n1' });
  checkScope(forNode, 'n1', {});
  assert.throws(() => checkScope(forNode, 'n2', {}), (e: Error) => code('TOKEN_SCOPE')(e) && /for node n1, not n2/.test(e.message));
  const { record: forRack } = await createToken(store, { labels: { rack: 'r1' } });
  checkScope(forRack, 'n5', { rack: 'r1', zone: 'a' });
  assert.throws(() => checkScope(forRack, 'n6', { rack: 'r2' }), code('TOKEN_SCOPE'));
  assert.throws(() => checkScope(forRack, 'stranger', undefined), (e: Error) => code('TOKEN_SCOPE')(e) && /not in the inventory/.test(e.message));
  const { record: open } = await createToken(store, {});
  checkScope(open, 'anything', undefined);
});

test('tokens: expired tokens are dropped on the next change', async () => {
  const store = new FileTokenStore(dir());
  await createToken(store, { ttlSeconds: 1 }, Date.now() - 5_000);
  await createToken(store, {});
  assert.equal((await store.list()).length, 1);
});
