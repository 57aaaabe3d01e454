import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'node:test';
import { enrollSans, splitListen } from './serve.js';

test('serve: the enrollment certificate names what agents dial: the bound address, --enroll-san, and on a wildcard this host and its addresses', () => {
  assert.deepEqual(enrollSans('10.0.0.10', ['ctl.example']), { dnsNames: ['localhost', 'ctl.example'], ipAddresses: ['127.0.0.1', '10.0.0.10'] });
  assert.deepEqual(enrollSans('ctl.example'), { dnsNames: ['localhost', 'ctl.example'], ipAddresses: ['127.0.0.1'] });
  const wild = enrollSans('0.0.0.0');
  assert.ok(wild.dnsNames.includes(os.hostname()));
  const first = Object.values(os.networkInterfaces()).flat().find((a) => a && !a.internal && !a.address.includes('%'));
  if (first) assert.ok(wild.ipAddresses.includes(first.address), `${first.address} listed`);
  assert.deepEqual(splitListen('[::1]:7450'), { host: '::1', port: 7450 });
});
