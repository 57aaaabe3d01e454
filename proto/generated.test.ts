import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function listFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

test('proto: the committed generated code matches the .proto files (run "npm run proto" when this fails)', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'muster-proto-'));
  try {
    const template = fs.readFileSync(path.join(root, 'proto/buf.gen.yaml'), 'utf8').replace('out: proto/gen', `out: ${out}`);
    execFileSync(path.join(root, 'node_modules/.bin/buf'), ['generate', 'proto', '--template', template], { cwd: root, stdio: 'pipe' });
    const committed = path.join(root, 'proto/gen');
    assert.deepEqual(listFiles(out), listFiles(committed));
    for (const f of listFiles(out)) {
      assert.equal(fs.readFileSync(path.join(committed, f), 'utf8'), fs.readFileSync(path.join(out, f), 'utf8'), `proto/gen/${f} is stale`);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
