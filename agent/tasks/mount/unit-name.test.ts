import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { escapePath, mountUnitName } from './unit-name.js';

const CASES: [string, string][] = [
  ['/mnt/x', 'mnt-x.mount'],
  ['/srv/storage/data', 'srv-storage-data.mount'],
  ['/mnt/a b', 'mnt-a\\x20b.mount'],
  ['/mnt/a-b', 'mnt-a\\x2db.mount'],
  ['/mnt//x/', 'mnt-x.mount'],
  ['/mnt/./x', 'mnt-x.mount'],
  ['/mnt/.hidden/x', 'mnt-.hidden-x.mount'],
  ['/.dot', '\\x2edot.mount'],
  ['/mnt/ünï', 'mnt-\\xc3\\xbcn\\xc3\\xaf.mount'],
  ['/mnt/a\\b', 'mnt-a\\x5cb.mount'],
  ['/mnt/x:y_z.w', 'mnt-x:y_z.w.mount'],
  ['/mnt/%x', 'mnt-\\x25x.mount'],
  ['/mnt/-x', 'mnt-\\x2dx.mount'],
  ['/var/lib/kubelet/pods/0b1c-22/volumes', 'var-lib-kubelet-pods-0b1c\\x2d22-volumes.mount'],
  ['/', '-.mount'],
];

test('unit name: systemd-escape --path rules, known answers', () => {
  for (const [p, want] of CASES) assert.equal(mountUnitName(p), want, p);
  assert.equal(escapePath('/mnt/x'), 'mnt-x');
});

test('unit name: byte for byte what the real systemd-escape --path --suffix=mount says', (t) => {
  const probe = spawnSync('systemd-escape', ['--version']);
  if (probe.error) return t.skip('systemd-escape not installed');
  const extra = ['/mnt/tab\there', '/mnt/ü/ø/€', '/srv/storage/a.b-c_d:e', '/mnt/#x?y*z', '/mnt/a,b=c', '/mnt/...', '/mnt/x.', '/mnt/x/.y'];
  for (const p of [...CASES.map((c) => c[0]), ...extra]) {
    const r = spawnSync('systemd-escape', ['--path', '--suffix=mount', p], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(mountUnitName(p), r.stdout.trim(), JSON.stringify(p));
  }
});
