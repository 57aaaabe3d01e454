// Property tests of the path policy and the write path: random paths, and random trees of
// folders and symlinks (inside the trees, outside them, relative, absolute, loops). Bounded so
// they run in a few seconds each in `npm test`.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import fss from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { AgentError } from '../errors.js';
import { Host } from './host.js';
import { checkPath, isWithin } from './path-policy.js';

const TREES = ['/etc/kubernetes', '/srv/kubernetes', '/etc/fstab'];
const SEGMENTS = ['etc', 'kubernetes', 'srv', 'pki', 'a', 'b', '..', '.', '', 'kubernetes-evil', 'fstab', '\0', 'x y', '%'];

const hostPath = fc.array(fc.constantFrom(...SEGMENTS), { minLength: 0, maxLength: 6 }).map((s) => '/' + s.join('/'));
const anyPath = fc.oneof(hostPath, fc.string({ maxLength: 30 }), hostPath.map((p) => p.slice(1)));

test('fuzz: the path policy returns a normalized path inside a tree, or refuses with PATH_NOT_ALLOWED', () => {
  fc.assert(
    fc.property(anyPath, (p) => {
      let normal: string;
      try {
        normal = checkPath(p, TREES);
      } catch (err) {
        assert.ok(err instanceof AgentError && err.code === 'PATH_NOT_ALLOWED', String(err));
        return;
      }
      assert.ok(path.posix.isAbsolute(normal));
      assert.ok(!normal.split('/').includes('..'), normal);
      assert.ok(!normal.includes('\0'));
      assert.equal(path.posix.normalize(normal), normal);
      assert.ok(TREES.some((t) => isWithin(normal, t)), normal);
    }),
    { numRuns: 5000 },
  );
});

// A tree entry: a folder, or a symlink to somewhere (inside a tree, outside, relative, a loop).
const entry = fc.record({
  at: fc.constantFrom('etc/kubernetes/a', 'etc/kubernetes/a/b', 'etc/kubernetes/pki', 'srv/kubernetes/a', 'etc/kubernetes/b', 'etc/a'),
  kind: fc.constantFrom('dir', 'link'),
  target: fc.constantFrom('OUT', 'OUT/deep', '/etc/kubernetes/pki', '/srv/kubernetes/a', '..', '../..', '../../outside', 'a', '.', 'SELF'),
});

async function listOutside(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(path.join(root, 'outside'), { withFileTypes: true, recursive: true })) out.push(path.join(e.parentPath, e.name));
  return out.sort();
}

test('fuzz: writes into random trees of folders and links land inside the trees or are refused', async () => {
  const base = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-fuzz-'));
  let n = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { maxLength: 6 }), fc.array(hostPath, { minLength: 1, maxLength: 4 }), async (entries, writes) => {
        const root = path.join(base, String(n++));
        await fs.mkdir(path.join(root, 'outside'), { recursive: true });
        await fs.mkdir(path.join(root, 'etc/kubernetes'), { recursive: true });
        for (const e of entries) {
          const at = path.join(root, e.at);
          const target = e.target === 'OUT' ? path.join(root, 'outside') : e.target === 'OUT/deep' ? path.join(root, 'outside/deep') : e.target === 'SELF' ? at : e.target.startsWith('/') ? path.join(root, e.target) : e.target;
          // An entry whose parent is missing or a looping link is simply not made.
          await (e.kind === 'dir' ? fs.mkdir(at) : fs.symlink(target, at)).catch(() => undefined);
        }
        const host = new Host({ root, allowedTrees: TREES, stateDir: '/var/lib/musterd' });
        const before = await listOutside(root);
        for (const w of writes) {
          const p = w + '/f.conf';
          try {
            await host.writeAtomic(p, Buffer.from(p), { mode: 0o600 });
          } catch (err) {
            assert.ok(err instanceof AgentError || (err as NodeJS.ErrnoException).code, String(err));
            continue;
          }
          // Written: it reads back, and where it really is lies inside a tree under the root.
          assert.equal((await host.read(p))?.content.toString(), p);
          const real = fss.realpathSync(await host.resolve(p));
          const asHost = '/' + path.relative(fss.realpathSync(root), real);
          assert.ok(TREES.some((t) => isWithin(asHost, t)), `${p} landed at ${asHost}`);
        }
        assert.deepEqual(await listOutside(root), before, 'nothing appeared outside the trees');
        await fs.rm(root, { recursive: true, force: true });
      }),
      { numRuns: 150 },
    );
  } finally {
    await fs.rm(base, { recursive: true, force: true });
  }
});
