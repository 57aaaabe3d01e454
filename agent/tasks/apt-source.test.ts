import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import type { AptSourceSpec, DeepPartial } from '../../proto/gen/muster/agent/v1/system.js';
import { tempHost } from '../../test/helpers/host.js';
import { appendTo, timeline } from '../../test/helpers/timeline.js';

const KEY = Buffer.from('-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ...\n-----END PGP PUBLIC KEY BLOCK-----\n');
const source = { name: 'kubernetes', uris: ['https://pkgs.k8s.io/core:/stable:/v1.32/deb/'], suites: ['/'], key: KEY };

timeline({
  name: 'apt-source (sources file)',
  task: { id: 'a', aptSource: source },
  drift: appendTo('/etc/apt/sources.list.d/kubernetes.sources', 'Trusted: yes\n'),
});

timeline({
  name: 'apt-source (key)',
  task: { id: 'a', aptSource: source },
  drift: async (real) => fs.writeFile(real('/etc/apt/keyrings/kubernetes.asc'), 'another key'),
});

test('apt-source: a deb822 file whose Signed-By names its own key', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  await h.run([{ id: 'a', aptSource: source }]);
  assert.equal(await fs.readFile(h.real('/etc/apt/sources.list.d/kubernetes.sources'), 'utf8'), [
    '# Managed by muster.',
    'Types: deb',
    'URIs: https://pkgs.k8s.io/core:/stable:/v1.32/deb/',
    'Suites: /',
    'Signed-By: /etc/apt/keyrings/kubernetes.asc',
    '',
  ].join('\n'));
  assert.deepEqual(await fs.readFile(h.real('/etc/apt/keyrings/kubernetes.asc')), KEY);
  await h.run([{ id: 'a', aptSource: { name: 'debian', uris: ['http://deb.debian.org/debian'], suites: ['bookworm'], components: ['main'], architectures: ['amd64'], key: Buffer.from([0x99, 1, 2]) } }]);
  assert.match(await fs.readFile(h.real('/etc/apt/sources.list.d/debian.sources'), 'utf8'), /Components: main\nArchitectures: amd64\nSigned-By: \/etc\/apt\/keyrings\/debian.gpg\n/, 'a binary key is a .gpg');
});

test('apt-source: bad input is refused', async (t) => {
  const h = await tempHost();
  t.after(h.cleanup);
  for (const [spec, pattern] of [
    [{ ...source, name: '../x' }, /must be letters/],
    [{ ...source, uris: [] }, /uris are empty/],
    [{ ...source, uris: ['ftp://x'] }, /not an apt URI/],
    [{ ...source, uris: ['https://x\nTrusted: yes'] }, /not an apt URI/],
    [{ ...source, components: ['main'] }, /flat suite/],
    [{ ...source, suites: ['bookworm'], components: ['main contrib'] }, /not one word/],
    [{ ...source, key: Buffer.alloc(0) }, /key is empty/],
    [{ ...source, key: Buffer.alloc(70_000, 1) }, /key is larger/],
  ] as [DeepPartial<AptSourceSpec>, RegExp][]) {
    const r = (await h.run([{ id: 'a', aptSource: spec }])).results[0];
    assert.equal(r.errorCode, 'INVALID_SPEC', JSON.stringify(spec.name));
    assert.match(r.errorMessage, pattern);
  }
  await assert.rejects(fs.stat(h.real('/etc/apt')), 'nothing written');
});
