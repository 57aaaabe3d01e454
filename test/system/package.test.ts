// The package and apt-source kinds for real, as root on this machine's root (/): a tiny Debian
// package in two versions, built with dpkg-deb, served from a local file: repository made with
// apt-ftparchive and signed by a key gpg makes here, so apt's Signed-By path is real and no
// network is used. Installs, pins, holds, upgrades, downgrades and removes it; cleans up after.
// Needs root, dpkg (dpkg-deb), apt-utils (apt-ftparchive), gpg.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { ApplyMode, TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { findBinary } from './helpers/etcd.js';
import { rootHost } from './helpers/root-host.js';

const tag = `${process.pid}${Date.now().toString(36)}`;
const NAME = `muster-demo-${tag}`;
const SOURCE = `muster-test-${tag}`;
const sh = (cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });

async function buildDeb(dir: string, version: string): Promise<void> {
  const root = path.join(dir, `build-${version}`);
  await fs.mkdir(path.join(root, 'DEBIAN'), { recursive: true });
  await fs.mkdir(path.join(root, 'usr/share', NAME), { recursive: true });
  await fs.writeFile(path.join(root, 'usr/share', NAME, 'version'), `${version}\n`);
  await fs.writeFile(path.join(root, 'DEBIAN/control'), [`Package: ${NAME}`, `Version: ${version}`, 'Architecture: all', 'Maintainer: muster tests <tests@example.invalid>', 'Description: muster package-kind test', ''].join('\n'));
  // One pool folder per version: apt-ftparchive lists one version of a package per folder it scans.
  await fs.mkdir(path.join(dir, 'repo', 'pool', version), { recursive: true });
  sh('dpkg-deb', ['--root-owner-group', '--build', root, path.join(dir, 'repo', 'pool', version, `${NAME}_${version}_all.deb`)]);
}

// A flat, signed repository: Packages, Release, InRelease (clear-signed), and the public key.
async function makeRepo(dir: string): Promise<{ repo: string; key: Buffer }> {
  const repo = path.join(dir, 'repo');
  await fs.mkdir(repo, { recursive: true });
  await buildDeb(dir, '1.0');
  await buildDeb(dir, '1.1');
  const packages = ['1.0', '1.1'].map((v) => sh('apt-ftparchive', ['packages', `pool/${v}`], { cwd: repo })).join('');
  await fs.writeFile(path.join(repo, 'Packages'), packages);
  await fs.writeFile(path.join(repo, 'Release'), sh('apt-ftparchive', ['release', '.'], { cwd: repo }));
  const gnupg = path.join(dir, 'gnupg');
  await fs.mkdir(gnupg, { mode: 0o700 });
  const env = { ...process.env, GNUPGHOME: gnupg };
  sh('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', 'muster test repo <repo@example.invalid>', 'ed25519', 'sign', '1d'], { env });
  sh('gpg', ['--batch', '--yes', '--clearsign', '-o', path.join(repo, 'InRelease'), path.join(repo, 'Release')], { env });
  const key = Buffer.from(sh('gpg', ['--armor', '--export', 'repo@example.invalid'], { env }));
  spawnSync('gpgconf', ['--kill', 'all'], { env, stdio: 'ignore' });
  await fs.chmod(dir, 0o755);
  return { repo, key };
}

const query = () => {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}|${Version}', NAME], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : '(unknown)';
};
// Every other package and its version: proof that nothing else was upgraded.
const others = () => sh('dpkg-query', ['-W', '-f=${Package} ${Version} ${Status}\\n']).split('\n').filter((l) => !l.startsWith(NAME)).sort().join('\n');
const digest = async (file: string) => createHash('sha256').update(await fs.readFile(file).catch(() => Buffer.alloc(0))).digest('hex');

test('package: install pinned and held from a signed local repository, keep, repair, check, re-pin, remove', { timeout: 600_000 }, async (t) => {
  for (const p of ['dpkg-deb', 'apt-ftparchive', 'gpg', 'apt-get']) if (!findBinary(p)) return t.skip(`${p} is not installed`);
  const h = await rootHost();
  const dir = path.join(h.dir, 'apt');
  await fs.mkdir(dir);
  // apt reads file: repositories as its _apt user: every folder on the way must be readable.
  await fs.chmod(h.dir, 0o755);
  const sourceFile = `/etc/apt/sources.list.d/${SOURCE}.sources`;
  t.after(async () => {
    spawnSync('apt-mark', ['unhold', NAME], { stdio: 'ignore' });
    spawnSync('dpkg', ['--purge', NAME], { stdio: 'ignore' });
    await fs.rm(sourceFile, { force: true });
    await fs.rm(`/etc/apt/keyrings/${SOURCE}.asc`, { force: true });
    // The lists apt fetched from the test repository: named after its path.
    const lists = await fs.readdir('/var/lib/apt/lists').catch(() => [] as string[]);
    const stem = dir.replace(/^\//, '').replace(/\//g, '_');
    for (const f of lists.filter((n) => n.includes(stem))) await fs.rm(path.join('/var/lib/apt/lists', f), { force: true });
    await h.cleanup();
  });
  const { repo, key } = await makeRepo(dir);
  const source = { id: 'repo', aptSource: { name: SOURCE, uris: [`file:${repo}/`], suites: ['./'], key } };
  const pkg = (version: string, hold = true) => [source, { id: 'pkg', package: { name: NAME, version, hold, aptSource: sourceFile } }];
  const untouched = others();

  // 1. first apply: the source and its key are written, apt refreshes that source alone, installs 1.0 and holds it.
  const first = await h.run(pkg('1.0'));
  assert.deepEqual(first.map((r) => [r.id, TaskStatus[r.status], r.errorMessage]), [['repo', 'TASK_STATUS_CHANGED', ''], ['pkg', 'TASK_STATUS_CHANGED', '']]);
  assert.equal(query(), 'hold ok installed|1.0');
  assert.match(await fs.readFile(sourceFile, 'utf8'), new RegExp(`Signed-By: /etc/apt/keyrings/${SOURCE}.asc`));
  // 2. second apply: nothing to do.
  assert.equal(await h.status(pkg('1.0')), 'ok');
  // 3. an outside change (unhold) is put back.
  sh('apt-mark', ['unhold', NAME]);
  assert.equal(await h.status(pkg('1.0')), 'changed');
  assert.equal(query(), 'hold ok installed|1.0');
  // 4. check mode on a drifted host: would-change, and neither dpkg's database nor the package moved.
  sh('apt-mark', ['unhold', NAME]);
  const status = await digest('/var/lib/dpkg/status');
  assert.equal(await h.status(pkg('1.0'), ApplyMode.APPLY_MODE_CHECK), 'would_change');
  assert.equal(await h.status(pkg('1.1'), ApplyMode.APPLY_MODE_CHECK), 'would_change');
  assert.equal(await digest('/var/lib/dpkg/status'), status, 'check mode ran no apt and no dpkg that writes');
  assert.equal(query(), 'install ok installed|1.0');

  // A new pin moves a held package up, and back down; nothing else is ever upgraded.
  assert.equal(await h.status(pkg('1.1')), 'changed');
  assert.equal(query(), 'hold ok installed|1.1');
  assert.equal((await fs.readFile(`/usr/share/${NAME}/version`, 'utf8')).trim(), '1.1');
  assert.equal(await h.status(pkg('1.0')), 'changed');
  assert.equal(query(), 'hold ok installed|1.0');
  assert.equal(others(), untouched, 'no other package changed');

  // A version apt does not know fails clearly after one refresh.
  const [, missing] = await h.run(pkg('9.9'));
  assert.equal(missing.errorCode, 'PACKAGE_NOT_FOUND', missing.errorMessage);
  assert.equal(query(), 'hold ok installed|1.0', 'the installed version stays');

  // Leaving the plan: muster installed it (present in the last plan), so it is removed with its source.
  await h.run(pkg('1.0'));
  const check = await h.run([], ApplyMode.APPLY_MODE_CHECK);
  assert.deepEqual(check.map((r) => [r.id, r.removal, TaskStatus[r.status]]), [['repo', true, 'TASK_STATUS_WOULD_CHANGE'], ['pkg', true, 'TASK_STATUS_WOULD_CHANGE']]);
  const removed = await h.run([]);
  assert.deepEqual(removed.map((r) => [r.id, r.removal, TaskStatus[r.status], r.errorMessage]), [['repo', true, 'TASK_STATUS_CHANGED', ''], ['pkg', true, 'TASK_STATUS_CHANGED', '']]);
  assert.notEqual(query().split('|')[0], 'hold ok installed');
  assert.match(query(), /not-installed|config-files|\(unknown\)/);
  await assert.rejects(fs.stat(sourceFile));
  assert.equal(others(), untouched, 'removing it removed nothing else');
});
