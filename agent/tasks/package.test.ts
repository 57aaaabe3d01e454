import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PackageState } from '../../proto/gen/muster/agent/v1/system.js';
import { tempHost } from '../../test/helpers/host.js';
import { knownVersions, packageTask, parseQuery } from './package.js';

// apt and dpkg run for real in test/system/package.test.ts (root /, a local signed repository);
// here: what they print, the diff, and what is refused.

test('package: dpkg-query lines', () => {
  assert.deepEqual(parseQuery(0, 'install ok installed\t1.0-1\n'), { installed: true, version: '1.0-1', held: false });
  assert.deepEqual(parseQuery(0, 'hold ok installed\t2:1.2~rc1\n'), { installed: true, version: '2:1.2~rc1', held: true });
  assert.deepEqual(parseQuery(0, 'deinstall ok config-files\t1.0-1\n'), { installed: false, version: '', held: false });
  assert.deepEqual(parseQuery(1, ''), { installed: false, version: '', held: false });
});

test('package: apt-cache policy versions', () => {
  const policy = `muster-demo:
  Installed: 1.0
  Candidate: 1.1
  Version table:
     1.1 500
        500 file:/srv/repo ./ Packages
 *** 1.0 100
        100 /var/lib/dpkg/status
`;
  assert.deepEqual(knownVersions(policy), { candidate: '1.1', versions: ['1.1', '1.0'] });
  assert.deepEqual(knownVersions('N: Unable to locate package nosuch\n'), { candidate: '(none)', versions: [] });
  assert.deepEqual(knownVersions('x:\n  Installed: (none)\n  Candidate: (none)\n  Version table:\n'), { candidate: '(none)', versions: [] });
});

test('package: the diff names version, hold and absence', () => {
  const spec = { name: 'kubelet', version: '1.32.3-1.1', hold: true, state: PackageState.PACKAGE_STATE_PRESENT, aptSource: '' };
  const d = (o: Parameters<typeof packageTask.diff>[1], s = spec) => packageTask.diff(s, o).map((c) => `${c.header}: ${c.before} -> ${c.after}`);
  assert.deepEqual(d({ installed: false, version: '', held: false }), ['package kubelet: (absent) -> 1.32.3-1.1', 'package kubelet (apt-mark): unhold -> hold']);
  assert.deepEqual(d({ installed: true, version: '1.32.2-1.1', held: true }), ['package kubelet: 1.32.2-1.1 -> 1.32.3-1.1']);
  assert.deepEqual(d({ installed: true, version: '1.32.3-1.1', held: true }), []);
  assert.deepEqual(d({ installed: true, version: '9', held: false }, { ...spec, version: '', hold: false }), [], 'no pin: any installed version will do');
  const absent = { ...spec, version: '', hold: false, state: PackageState.PACKAGE_STATE_ABSENT };
  assert.deepEqual(d({ installed: true, version: '1.0', held: true }, absent), ['package kubelet: 1.0 -> (absent)']);
  assert.deepEqual(d({ installed: false, version: '', held: false }, absent), []);
});

test('package: an agent with a root prefix other than / refuses it, running nothing', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  const r = (await h.run([{ id: 'p', package: { name: 'sl' } }])).results[0];
  assert.equal(r.errorCode, 'PACKAGE_ROOT_UNSUPPORTED');
  assert.match(r.errorMessage, /apt and dpkg only manage the real root \//);
});

test('package: bad input is refused', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  for (const [spec, pattern] of [
    [{ name: '' }, /not a Debian package name/],
    [{ name: '-oAPT::x=1' }, /not a Debian package name/],
    [{ name: 'Sl' }, /not a Debian package name/],
    [{ name: 'sl', version: '1.0 2' }, /not a Debian version/],
    [{ name: 'sl', version: '1;rm' }, /not a Debian version/],
    [{ name: 'sl', hold: true, state: PackageState.PACKAGE_STATE_ABSENT }, /absent package takes no version and no hold/],
    [{ name: 'sl', aptSource: '/etc/apt/sources.list' }, /must be a file in \/etc\/apt\/sources.list.d/],
  ] as const) {
    const r = (await h.run([{ id: 'p', package: spec }])).results[0];
    assert.equal(r.errorCode, 'INVALID_SPEC', JSON.stringify(spec));
    assert.match(r.errorMessage, pattern);
  }
});
