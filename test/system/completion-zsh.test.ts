import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/fleet.js';

const exec = promisify(execFile);

// The zsh script from `muster completion zsh`, run by a real zsh (Debian's zsh). compadd and
// _files are stand-ins that print what zsh's completion system would be handed.
test('completion: zsh parses the script and completes commands, subcommands, flag values and files', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-zsh-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, '_muster');
  const { stdout } = await exec(process.execPath, [path.join(repoRoot, 'bin/muster.js'), 'completion', 'zsh']);
  await fs.writeFile(file, stdout);
  await exec('zsh', ['-n', file]);
  const complete = async (...words: string[]) => {
    const arr = words.map((w) => `'${w}'`).join(' ');
    const r = await exec('zsh', ['-fc', `compadd() { [ "$1" = -- ] && shift; print -l -- "$@"; }; _files() { print '(files)'; }; source '${file}'; words=(${arr}); CURRENT=${words.length}; _muster`]);
    return r.stdout.trim().split('\n').sort();
  };
  assert.deepEqual(await complete('muster', 'certs', ''), ['check-expiration', 'issue', 'renew']);
  assert.deepEqual(await complete('muster', '-i', 'inv.yaml', 'discovery', ''), ['new', 'serve']);
  assert.deepEqual(await complete('muster', 'status', '-o', ''), ['json', 'table', 'wide', 'yaml']);
  assert.deepEqual(await complete('muster', 'plan', '-c', ''), ['(files)']);
  assert.deepEqual(await complete('muster', 'completion', ''), ['bash', 'zsh']);
  assert.ok((await complete('muster', 'apply', '-')).includes('--limit'));
  assert.ok((await complete('muster', '')).includes('plan'));
});
