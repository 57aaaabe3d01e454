// The .deb packages on a real Debian 12 (a debootstrap minbase tree, entered with chroot): install
// with dpkg alone, run the agent by its unit's command and the CLI from the installed paths, upgrade
// with an edited conffile, remove, purge. Plus lintian and systemd-analyze verify of the unit.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { buildPackages } from '../../scripts/package.js';
import { freePort, repoRoot, waitForPort } from '../helpers/fleet.js';
import { debianTree, fileList, overlay, type Overlay } from './helpers/debian-tree.js';

const exec = promisify(execFile);
const version = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
const upgradeVersion = `${version}+upgrade1`;
const unitPath = 'lib/systemd/system/musterd.service';

let work: string;
let tree: Overlay;
let debs: { musterd: string; muster: string; upgrade: string };
let lintian: Promise<{ stdout: string; stderr: string }>;
let pristine: string[];
let agent: ChildProcess | undefined;
let procMounted = false;

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'muster-deb-'));
  const [[musterd, muster], [upgrade]] = await Promise.all([
    buildPackages({ out: path.join(work, 'v1') }),
    buildPackages({ version: upgradeVersion, out: path.join(work, 'v2'), only: 'musterd' }),
  ]);
  debs = { musterd, muster, upgrade };
  // lintian takes half a minute: it runs while the tree is used, and its test comes last.
  lintian = exec('lintian', ['--pedantic', '--info', musterd, muster], { maxBuffer: 16 << 20 });
  lintian.catch(() => {});
  tree = overlay(debianTree(), path.join(work, 'tree'));
  pristine = fileList(tree.root);
  for (const deb of Object.values(debs)) fs.copyFileSync(deb, path.join(tree.root, 'tmp', path.basename(deb)));
});

// The agent runs under strace (for the system call check): signal the traced program, strace follows.
async function stopAgent(signal: NodeJS.Signals) {
  if (!agent || agent.exitCode !== null || agent.signalCode !== null) return;
  const exited = once(agent, 'exit');
  const traced = fs.readFileSync(`/proc/${agent.pid}/task/${agent.pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
  for (const pid of traced) process.kill(pid, signal);
  if (signal === 'SIGKILL' || traced.length === 0) agent.kill(signal);
  await exited;
}

// The system calls a group of SystemCallFilter= stands for, nested groups expanded (systemd-analyze).
function syscallGroup(name: string): string[] {
  if (!name.startsWith('@')) return [name];
  const lines = execFileSync('systemd-analyze', ['syscall-filter', name], { encoding: 'utf8' }).split('\n').map((l) => l.trim());
  return lines.filter((l) => l && l !== name && !l.startsWith('#')).flatMap(syscallGroup);
}

after(async () => {
  await stopAgent('SIGKILL');
  if (procMounted) execFileSync('umount', [path.join(tree.root, 'proc')]);
  tree?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

const inTree = (p: string) => path.join(tree.root, p);
const mode = (p: string) => (fs.statSync(inTree(p)).mode & 0o7777).toString(8);
const dpkgVersion = (pkg: string) => tree.chroot(['dpkg-query', '-W', '-f=${Status} ${Version}', pkg]);

test('deb: dpkg -i installs both packages on a minimal Debian 12 with nothing else', () => {
  tree.chroot(['dpkg', '-i', `/tmp/${path.basename(debs.musterd)}`, `/tmp/${path.basename(debs.muster)}`]);
  assert.equal(dpkgVersion('musterd'), `install ok installed ${version}`);
  assert.equal(dpkgVersion('muster'), `install ok installed ${version}`);
  assert.equal(tree.chroot(['sh', '-c', 'command -v musterd; command -v muster']), '/usr/bin/musterd\n/usr/bin/muster\n');
  // The runtime stays off PATH: nodes get no `node` command from us.
  assert.notEqual(spawnSync('chroot', [tree.root, 'sh', '-c', 'command -v node'], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } }).status, 0);
  // Both programs print the package's version, from the installed paths.
  assert.equal(tree.chroot(['/usr/bin/musterd', '--version']), `${version}\n`);
  assert.equal(tree.chroot(['/usr/bin/muster', '--version']), `${version}\n`);
  assert.match(tree.chroot(['muster', '--help']), /^Usage: muster /);
  assert.equal(mode('var/lib/musterd'), '700');
  assert.equal(mode('etc/muster/pki'), '700');
  assert.match(tree.chroot(['dpkg-query', '-W', '-f=${Conffiles}', 'musterd']), /^ \/etc\/muster\/musterd\.yaml [0-9a-f]{32}$/m);
});

test('deb: systemd-analyze verify accepts the installed unit, and rejects a broken copy', (t) => {
  if (spawnSync('systemd-analyze', ['--version']).error) return t.skip('systemd-analyze not installed');
  // The host has no /usr/lib/musterd: the copy names the tree's files by their path from here.
  const unit = fs.readFileSync(inTree(unitPath), 'utf8').replaceAll(' /usr/lib/musterd/', ` ${tree.root}/usr/lib/musterd/`).replace('ExecStart=/usr/lib/musterd/', `ExecStart=${tree.root}/usr/lib/musterd/`);
  const dir = path.join(work, 'verify');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'musterd.service'), unit);
  const ok = spawnSync('systemd-analyze', ['verify', '--man=no', path.join(dir, 'musterd.service')], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stderr.trim(), '');
  fs.writeFileSync(path.join(dir, 'musterd.service'), unit.replace(`${tree.root}/usr/lib/musterd/node`, `${tree.root}/usr/lib/musterd/no-such-node`));
  assert.notEqual(spawnSync('systemd-analyze', ['verify', '--man=no', path.join(dir, 'musterd.service')]).status, 0);
});

test('deb: the agent runs by its unit\'s command; the installed CLI reaches it with the fleet certificates', async () => {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  fs.writeFileSync(inTree('root/inventory.yaml'), `cluster: deb\nnodes:\n  - { name: n1, address: 127.0.0.1, agentPort: ${grpcPort}, roles: [etcd, control-plane] }\n`);
  const muster = (...args: string[]) => tree.chroot(['muster', '-s', '/root/fleet', '-i', '/root/inventory.yaml', ...args]);
  muster('init');
  for (const [from, to] of [['ca.crt', 'ca.crt'], ['agents/n1.crt', 'agent.crt'], ['agents/n1.key', 'agent.key']]) {
    fs.copyFileSync(inTree(`root/fleet/pki/fleet/${from}`), inTree(`etc/muster/pki/${to}`));
  }
  // The operator's edit of the conffile (the upgrade below must keep it).
  const config = fs.readFileSync(inTree('etc/muster/musterd.yaml'), 'utf8')
    .replace(/^name: m1 /m, 'name: n1 ')
    .replace(/^listen: \S+/m, `listen: 127.0.0.1:${grpcPort}`)
    .replace(/^http: \S+/m, `http: 127.0.0.1:${httpPort}`);
  assert.match(config, /^name: n1 /m);
  fs.writeFileSync(inTree('etc/muster/musterd.yaml'), config);

  execFileSync('mount', ['-t', 'proc', 'proc', inTree('proc')]);
  procMounted = true;
  try {
    const execStart = /^ExecStart=(.+)$/m.exec(fs.readFileSync(inTree(unitPath), 'utf8'))![1].split(' ');
    const log: Buffer[] = [];
    agent = spawn('strace', ['-f', '-qq', '-o', path.join(work, 'agent.strace'), 'chroot', tree.root, ...execStart], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] });
    agent.stdout!.on('data', (b: Buffer) => log.push(b));
    agent.stderr!.on('data', (b: Buffer) => log.push(b));
    const agentLog = () => Buffer.concat(log).toString();
    await Promise.all([waitForPort('127.0.0.1', grpcPort, 30_000), waitForPort('127.0.0.1', httpPort, 30_000)]).catch((err: Error) => {
      throw new Error(`${err.message}\n${agentLog()}`);
    });
    const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok', node: 'n1' });

    assert.match(muster('status'), /^n1\s+etcd,control-plane\s+yes\s/m);
    assert.equal((JSON.parse(muster('facts', 'n1', '-o', 'json')) as { os: string }).os, 'Debian GNU/Linux');
    // A static pod: its manifest is checked by the Pod schema bundled into the installed agent.
    fs.copyFileSync(path.join(repoRoot, 'examples/demo/etcd.yaml'), inTree('root/etcd.yaml'));
    fs.writeFileSync(inTree('root/tasks.yaml'), 'vars:\n  ETCD_IMAGE: registry.k8s.io/etcd:3.5.15-0\n  ETCD_INITIAL_CLUSTER: n1=https://127.0.0.1:2380\ntasks:\n  - id: etcd\n    staticPod: { name: etcd, manifestFile: etcd.yaml }\n');
    assert.match(muster('apply', '-t', '/root/tasks.yaml', '--no-diff'), /: 1 changed, 0 ok, 0 failed, 0 unreachable$/m);
    assert.match(fs.readFileSync(inTree('etc/kubernetes/manifests/etcd.yaml'), 'utf8'), /--name=n1/);
    assert.ok(fs.existsSync(inTree('var/lib/musterd/plan.pb')), 'the agent keeps its plan in /var/lib/musterd');

    await stopAgent('SIGTERM');
    assert.match(agentLog(), /"msg":"agent stopped"/);
  } finally {
    await stopAgent('SIGKILL');
    execFileSync('umount', [inTree('proc')]);
    procMounted = false;
  }
});

test('deb: every system call the agent made (start, status, facts, apply, stop) is one the unit allows', () => {
  const filter = /^SystemCallFilter=(.+)$/m.exec(fs.readFileSync(inTree(unitPath), 'utf8'))![1].split(' ');
  const allowed = new Set(filter.flatMap(syscallGroup));
  assert.ok(!allowed.has('reboot') && !allowed.has('ptrace') && !allowed.has('kexec_load'), 'the filter leaves calls out');
  const used = new Set([...fs.readFileSync(path.join(work, 'agent.strace'), 'utf8').matchAll(/^\d+\s+([a-z0-9_]+)\(/gm)].map((m) => m[1]));
  assert.ok(used.has('io_uring_setup') || used.has('epoll_pwait'), `a real trace (${used.size} calls)`);
  // Refused on purpose, and survived: dmesg, which systeminformation runs to guess at virtualisation
  // and UEFI (the kernel log is not the agent's; CAP_SYSLOG is not in the bounding set either).
  const refusedOnPurpose = ['syslog'];
  assert.deepEqual([...used].filter((c) => !allowed.has(c) && !refusedOnPurpose.includes(c)).sort(), []);
});

test('deb: an upgrade keeps the edited conffile and the agent\'s state', () => {
  const edited = fs.readFileSync(inTree('etc/muster/musterd.yaml'), 'utf8');
  tree.chroot(['dpkg', '-i', `/tmp/${path.basename(debs.upgrade)}`]);
  assert.equal(dpkgVersion('musterd'), `install ok installed ${upgradeVersion}`);
  assert.equal(tree.chroot(['/usr/bin/musterd', '--version']), `${upgradeVersion}\n`, 'the upgraded agent reports its own version');
  assert.equal(fs.readFileSync(inTree('etc/muster/musterd.yaml'), 'utf8'), edited);
  assert.ok(fs.existsSync(inTree('var/lib/musterd/plan.pb')));
  assert.equal(mode('var/lib/musterd'), '700');
});

test('deb: dpkg -r keeps configuration and state, dpkg -P leaves nothing behind', () => {
  tree.chroot(['dpkg', '-r', 'musterd', 'muster']);
  for (const gone of ['usr/bin/musterd', 'usr/bin/muster', 'usr/lib/musterd', 'usr/lib/muster', unitPath]) assert.ok(!fs.existsSync(inTree(gone)), `${gone} removed`);
  for (const kept of ['etc/muster/musterd.yaml', 'etc/muster/pki/agent.key', 'var/lib/musterd/plan.pb']) assert.ok(fs.existsSync(inTree(kept)), `${kept} kept on remove`);

  tree.chroot(['dpkg', '-P', 'musterd', 'muster']);
  // What the test itself made: the packages it copied in, the fleet, the plan's files (the
  // cluster's, not the package's, so purge rightly leaves them) and the CLI's compile cache in root's
  // home (a user's cache, as any CLI keeps; purge never touches homes), when HOME is set.
  for (const own of ['tmp/' + path.basename(debs.musterd), 'tmp/' + path.basename(debs.muster), 'tmp/' + path.basename(debs.upgrade), 'root/.cache/muster', 'root/fleet', 'root/inventory.yaml', 'root/tasks.yaml', 'root/etcd.yaml', 'etc/kubernetes']) {
    fs.rmSync(inTree(own), { recursive: true, force: own === 'root/.cache/muster' });
  }
  // dpkg's own database and log record the history; everything else is as before the install.
  const dpkgOwn = (p: string) => p.startsWith('./var/lib/dpkg/') || p === './var/log/dpkg.log' || p === './root/.cache';
  const now = new Set(fileList(tree.root));
  const before = new Set(pristine);
  assert.deepEqual([...now].filter((p) => !before.has(p) && !dpkgOwn(p)), [], 'left behind');
  assert.deepEqual(pristine.filter((p) => !now.has(p) && !dpkgOwn(p)), [], 'removed though not ours');
});

test('deb: lintian finds nothing (each override is justified in docs/packaging.md)', async () => {
  const { stdout } = await lintian;
  assert.equal(stdout.trim(), '');
});
