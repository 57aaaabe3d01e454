import assert from 'node:assert/strict';
import { test } from 'node:test';
import { annotateRestarts, referencedFiles, restartHash } from './restart-for.js';

const manifest = (flags: string[]) => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n    - name: x\n      image: i\n      command: [x, ${flags.join(', ')}]\n`;
const managed = new Map([['/pki/a.crt', 'A'], ['/pki/a.key', 'K'], ['/pki/ca.crt', 'C']]);

test('restart-for: only managed files that the flags name count, comma lists included, each once', () => {
  assert.deepEqual(referencedFiles(manifest(['--cert-file=/pki/a.crt', '--key-file=/pki/a.key', '--other=/not/managed', '--cas=/pki/ca.crt,/pki/a.crt', '--v=2']), managed), ['/pki/a.crt', '/pki/a.key', '/pki/ca.crt']);
  assert.deepEqual(referencedFiles(manifest(['--v=2']), managed), []);
  assert.equal(referencedFiles(': [', managed), undefined);
});

test('restart-for: the hash follows the content and the paths; pods naming no managed file are left as they are', () => {
  const h = restartHash(['/pki/a.crt'], managed);
  assert.notEqual(h, restartHash(['/pki/a.crt'], new Map([['/pki/a.crt', 'B']])));
  assert.notEqual(h, restartHash(['/pki/a.key'], managed));
  const tasks = annotateRestarts([
    { id: 'c', notify: [], certificate: { certPath: '/pki/a.crt', certPem: 'A', keyPath: '/pki/a.key', keyPem: 'K', caPath: '', caPem: '', owner: '', group: '' } },
    { id: 'p', notify: [], staticPod: { name: 'x', manifest: manifest(['--cert-file=/pki/a.crt']), manifestsDir: '' } },
    { id: 'q', notify: [], staticPod: { name: 'y', manifest: manifest(['--v=2']), manifestsDir: '' } },
  ]);
  assert.match(tasks[1].staticPod!.manifest, new RegExp(`annotations:\\n    muster.io/restart-for: ${restartHash(['/pki/a.crt'], managed)}`));
  assert.equal(tasks[2].staticPod!.manifest, manifest(['--v=2']));
});

test('restart-for: a flag naming a managed file through a YAML escape or a folded line still counts', () => {
  const cert = { id: 'c', notify: [], certificate: { certPath: '/pki/a.crt', certPem: 'A', keyPath: '/pki/a.key', keyPem: 'K', caPath: '', caPem: '', owner: '', group: '' } };
  const spaced = { id: 'f', notify: [], file: { path: '/pki/my file.conf', content: Buffer.from('x'), mode: 0o644, owner: '', group: '', secret: false } };
  const pod = (id: string, command: string) => ({ id, notify: [], staticPod: { name: id, manifest: `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${id}\nspec:\n  containers:\n    - name: x\n      image: i\n      command: ${command}\n`, manifestsDir: '' } });
  const tasks = annotateRestarts([
    cert,
    spaced,
    pod('escaped', '[x, "--cert-file=/pki/a\\x2ecrt"]'),
    pod('folded', '[x, "--config=/pki/my\n          file.conf"]'),
    pod('none', '[x, --v=2]'),
  ]);
  assert.match(tasks[2].staticPod!.manifest, /muster.io\/restart-for: [0-9a-f]{64}/);
  assert.match(tasks[3].staticPod!.manifest, /muster.io\/restart-for: [0-9a-f]{64}/);
  assert.doesNotMatch(tasks[4].staticPod!.manifest, /restart-for/);
});
