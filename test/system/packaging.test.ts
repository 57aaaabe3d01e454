import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const unit = fileURLToPath(new URL('../../packaging/systemd/musterd.service', import.meta.url));

test('packaging: systemd-analyze verify accepts the musterd unit', (t) => {
  if (spawnSync('systemd-analyze', ['--version']).error) return t.skip('systemd-analyze not installed');
  const out = execFileSync('systemd-analyze', ['verify', unit], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(out.trim(), '');
});

test('packaging: systemd-analyze rejects a broken copy (the check can fail)', (t) => {
  if (spawnSync('systemd-analyze', ['--version']).error) return t.skip('systemd-analyze not installed');
  const dir = fs.mkdtempSync('/tmp/muster-unit-');
  try {
    const broken = `${dir}/musterd.service`;
    fs.writeFileSync(broken, fs.readFileSync(unit, 'utf8').replace('ExecStart=/usr/bin/node', 'ExecStart=node-not-absolute'));
    const r = spawnSync('systemd-analyze', ['verify', broken], { encoding: 'utf8' });
    assert.notEqual(r.status, 0, r.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
