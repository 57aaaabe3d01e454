// A local user who can write inside an allowed tree flips a folder between a real folder and a
// symlink to a place outside the trees while the agent writes, backs up, removes and chmods
// beneath it. Nothing may land outside, and no temp file may be left anywhere.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { TEMP_MARK } from '../../common/atomic-write.js';
import { Host } from './host.js';

// The racer: a separate process, as the attacker would be, flipping until it is killed.
const RACER = `
const fs = require('node:fs');
const [dir, outside, until] = process.argv.slice(1);
let flips = 0;
while (Date.now() < Number(until)) {
  try { fs.renameSync(dir, dir + '.real'); fs.symlinkSync(outside, dir); } catch {}
  try { fs.unlinkSync(dir); fs.renameSync(dir + '.real', dir); } catch {}
  flips++;
}
process.stdout.write(String(flips));
`;

async function listAll(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) out.push(path.join(e.parentPath, e.name));
  return out;
}

test('host: a folder flipped to a symlink during writes never lets anything out of the trees', { timeout: 60_000 }, async (t) => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-race-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  const outside = path.join(root, 'etc/outside');
  const dir = path.join(root, 'etc/kubernetes/pki');
  await fs.mkdir(outside, { recursive: true });
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(outside, 'planted'), 'planted');
  const host = new Host({ root, allowedTrees: ['/etc/kubernetes'], stateDir: '/var/lib/musterd' });

  const deadline = Date.now() + 3000;
  const racer = spawn(process.execPath, ['-e', RACER, dir, outside, String(deadline)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let flips = '';
  racer.stdout.on('data', (d: Buffer) => (flips += d.toString()));
  const exited = new Promise((r) => racer.once('exit', r));
  let writes = 0;
  try {
    while (Date.now() < deadline) {
      const name = `/etc/kubernetes/pki/f${writes % 7}`;
      const ops = [
        () => host.writeAtomic(name, Buffer.from(`v${writes}`), { mode: 0o600 }),
        () => host.writeAtomic('/etc/kubernetes/pki/planted', Buffer.from('overwritten'), { mode: 0o600 }),
        () => host.setAttributes('/etc/kubernetes/pki/planted', { mode: 0o666 }),
        () => host.remove('/etc/kubernetes/pki/planted'),
        () => host.read('/etc/kubernetes/pki/planted'),
      ];
      await ops[writes % ops.length]().catch(() => undefined);
      writes++;
    }
  } finally {
    await exited;
  }
  // Settle the folder as a real folder again before looking.
  await fs.rm(dir, { force: true }).catch(() => undefined);
  await fs.rename(dir + '.real', dir).catch(() => undefined);

  assert.ok(Number(flips) > 1000, `the racer flipped ${flips} times`);
  assert.ok(writes > 100, `the agent tried ${writes} operations`);
  assert.deepEqual((await fs.readdir(outside)).sort(), ['planted'], 'nothing written, removed or left outside the trees');
  assert.equal(await fs.readFile(path.join(outside, 'planted'), 'utf8'), 'planted');
  assert.equal((await fs.stat(path.join(outside, 'planted'))).mode & 0o777, 0o644, 'no chmod outside the trees');
  const temps = (await listAll(root)).filter((p) => path.basename(p).includes(TEMP_MARK));
  assert.deepEqual(temps, [], 'no temp file left anywhere');
});
