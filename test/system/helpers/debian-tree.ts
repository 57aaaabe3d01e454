// A Debian 12 tree from debootstrap (minbase), made once and cached under the OS temp folder, keyed
// by a hash of how it is made; each test gets a throw-away overlay on top of it.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SUITE = 'bookworm';
const VARIANT = 'minbase';

// The machine's own Debian mirror: the first apt source that serves bookworm.
export function aptMirror(etc = '/etc/apt'): string {
  const files = [path.join(etc, 'sources.list'), ...fs.readdirSync(path.join(etc, 'sources.list.d')).map((f) => path.join(etc, 'sources.list.d', f))];
  for (const file of files.filter((f) => /\.(list|sources)$/.test(f) && fs.existsSync(f))) {
    const text = fs.readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1].trim().split(/\s+/) ?? [];
        if (field('Types').includes('deb') && field('Suites').includes(SUITE) && field('URIs')[0]) return field('URIs')[0];
      }
    } else {
      for (const line of text.split('\n')) {
        const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
        if (m && m[2] === SUITE) return m[1];
      }
    }
  }
  throw new Error(`no apt source for ${SUITE} in ${etc}/sources.list or ${etc}/sources.list.d/`);
}

// The cached tree's path; made (about 30 s, 200 MB) when no tree for this recipe exists yet.
export function debianTree(): string {
  const mirror = aptMirror();
  const recipe = JSON.stringify({ suite: SUITE, variant: VARIANT, mirror, helper: fs.readFileSync(new URL(import.meta.url), 'utf8') });
  const key = crypto.createHash('sha256').update(recipe).digest('hex').slice(0, 16);
  const cache = path.join(os.tmpdir(), `muster-debian-${SUITE}-${key}`);
  const tree = path.join(cache, 'tree');
  if (fs.existsSync(path.join(cache, 'done'))) return tree;
  fs.rmSync(cache, { recursive: true, force: true });
  // Made beside the cache and renamed into place, so a run that stops half-way leaves no tree.
  const partial = fs.mkdtempSync(`${cache}.partial-`);
  try {
    execFileSync('debootstrap', [`--variant=${VARIANT}`, SUITE, path.join(partial, 'tree'), mirror], { stdio: ['ignore', 'ignore', 'inherit'] });
    fs.writeFileSync(path.join(partial, 'done'), `${recipe}\n`);
    fs.renameSync(partial, cache);
  } finally {
    fs.rmSync(partial, { recursive: true, force: true });
  }
  return tree;
}

export interface Overlay {
  root: string;
  chroot(args: string[], opts?: { input?: string }): string;
  close(): void;
}

// A writable copy of the tree for one test: an overlay mount, so the cache stays untouched.
export function overlay(tree: string, work: string): Overlay {
  const [upper, scratch, root] = ['upper', 'work', 'root'].map((d) => path.join(work, d));
  for (const d of [upper, scratch, root]) fs.mkdirSync(d, { recursive: true });
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${tree},upperdir=${upper},workdir=${scratch}`, root]);
  return {
    root,
    chroot: (args, opts = {}) => execFileSync('chroot', [root, ...args], { encoding: 'utf8', input: opts.input, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', HOME: '/root' }, stdio: ['pipe', 'pipe', 'pipe'] }),
    close: () => {
      execFileSync('umount', [root]);
    },
  };
}

// Every path in a tree (relative, sorted), for before/after comparisons.
export function fileList(root: string): string[] {
  return execFileSync('find', ['.', '-xdev'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n').filter(Boolean).sort();
}
