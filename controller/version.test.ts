import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { VERSION } from './version.js';

test('version: the CLI reports package.json\'s version', () => {
  assert.equal(VERSION, JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
});
