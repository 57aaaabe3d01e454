import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

// node:test runs each file in its own process, so the module cache here is this file's alone.
const loaded = () => Object.keys((createRequire(import.meta.url) as unknown as { cache: Record<string, unknown> }).cache).some((k) => k.includes('/node-forge/'));

test('join: a joined agent holds no node-forge until it makes a CSR', async () => {
  await import('./index.js');
  assert.equal(loaded(), false, 'loading the join code leaves node-forge out');
  await (await import('./csr.js')).makeKeyAndCsr({ name: 'n1' });
  assert.equal(loaded(), true, 'making a CSR loads it');
});
