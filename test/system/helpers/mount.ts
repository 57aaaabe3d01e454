// Helpers for the storage (mount) system tests: daemons stopped by pid, loop devices, the
// stand-in programs on PATH, and the four-step timeline with cleanup of everything attached.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Kernel } from '../../../agent/host/kernel.js';
import { parseMountinfo, topMount, type MountEntry } from '../../../agent/host/mountinfo.js';
import { standinKernel } from './standin-kernel.js';
import { unitPath } from '../../../agent/tasks/mount/persistence.js';
import { ApplyMode, TaskResult, TaskStatus } from '../../../proto/gen/muster/agent/v1/agent.js';
import { MountState } from '../../../proto/gen/muster/agent/v1/mount.js';
import type { DeepPartial, Task } from '../../../proto/gen/muster/agent/v1/tasks.js';
import { snapshot, type TempHost } from '../../helpers/host.js';
import { findBinary, isListening, sleep, waitForPortsClosed } from './etcd.js';

export interface Daemon {
  name: string;
  pid: number;
  logFile: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  logs(lines?: number): string;
}

// Killed by pid if the test process exits before its cleanup ran.
const live = new Map<number, ChildProcess>();
let hooked = false;

export function startDaemon(name: string, binary: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): Daemon {
  const path = binary.includes('/') ? binary : findBinary(binary);
  if (!path) throw new Error(`${binary} is not installed`);
  // Output straight to a file: a daemon must never block on a pipe nobody drains.
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(path, args, { stdio: ['ignore', fd, fd], env });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${binary}`);
  live.set(pid, child);
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const p of live.keys()) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(pid);
      resolve({ code, signal });
    });
  });
  return {
    name,
    pid,
    logFile,
    child,
    exited,
    running: () => child.exitCode === null && child.signalCode === null,
    logs: (lines = 40) => {
      try {
        return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
  };
}

// SIGTERM by pid, SIGKILL after graceMs; resolves once the process has been reaped (we are its
// parent, so no zombie lingers) and the given ports refuse connections.
export async function stopDaemon(d: Daemon, ports: number[] = [], graceMs = 10_000, host = '127.0.0.1'): Promise<void> {
  if (d.running()) {
    try {
      process.kill(d.pid, 'SIGTERM');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(d.pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }, graceMs);
    await d.exited;
    clearTimeout(timer);
  }
  await waitForPortsClosed(host, ports, 15_000);
}

// Polls until check() is true; fails with the daemons' logs when they exit or time runs out.
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, daemons: Daemon[] = []): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const d of daemons) if (!d.running()) throw new Error(`${d.name} exited while waiting for ${what}:\n${d.logs()}`);
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${daemons.map((d) => `--- ${d.name}\n${d.logs(15)}`).join('\n')}`);
    await sleep(200);
  }
}

// ---- binaries, loop devices, cleanup ----

// True when every binary is installed; otherwise marks the test skipped with the first missing one.
export function requireBinaries(t: TestContext, ...names: string[]): boolean {
  const missing = names.find((n) => !findBinary(n));
  if (missing) t.skip(`${missing} not installed`);
  return missing === undefined;
}

export function sh(cmd: string, args: string[], options: { allowFailure?: boolean; env?: NodeJS.ProcessEnv } = {}): { code: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, env: options.env ?? process.env });
  if (r.error) throw r.error;
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0 && !options.allowFailure) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}\n${out}`);
  return { code: r.status ?? 1, out };
}

export async function makeImage(file: string, size: string): Promise<string> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  sh('truncate', ['-s', size, file]);
  return file;
}

export function attachLoop(file: string): string {
  return sh('losetup', ['--find', '--show', file]).out.trim();
}

// Loop devices whose backing file lies under dir: ours to detach, nobody else's.
export function detachLoopsUnder(dir: string): void {
  for (const dev of readdirSync('/sys/block').filter((n) => n.startsWith('loop'))) {
    let backing = '';
    try {
      backing = readFileSync(`/sys/block/${dev}/loop/backing_file`, 'utf8').trim();
    } catch {
      continue;
    }
    if (backing.startsWith(dir + '/')) sh('losetup', ['-d', `/dev/${dev}`], { allowFailure: true });
  }
}

export function mountsUnder(dir: string): MountEntry[] {
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).filter((e) => e.mountPoint.startsWith(dir + '/'));
}

// Unmounts everything below dir, deepest first; never lazy, so a leak shows as a failure.
export function unmountUnder(dir: string): void {
  for (const e of mountsUnder(dir).sort((a, b) => b.mountPoint.length - a.mountPoint.length)) {
    sh('umount', [e.mountPoint], { allowFailure: true });
  }
}

export function isMounted(realPath: string): MountEntry | undefined {
  return topMount(parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')), realPath);
}

// Cleanup of a test host: the mounts on loop devices, then the loops (one over an rbd-fuse file
// keeps that FUSE mount busy), then what is left mounted, then the folder — never removed
// through a live mount, where it would delete what the mount serves.
export async function cleanupHost(h: TempHost): Promise<void> {
  unmountUnder(h.root);
  detachLoopsUnder(h.root);
  unmountUnder(h.root);
  const left = mountsUnder(h.root);
  if (left.length) throw new Error(`still mounted, ${h.root} kept: ${left.map((e) => e.mountPoint).join(', ')}`);
  await h.cleanup();
}

// Files that appear in the given folders from now on (logs real clients write to /var/log/...),
// removed by sweep(): the machine keeps only what it had.
export function newFilesIn(dirs: string[]): { sweep(): Promise<void> } {
  const list = (d: string) => (existsSync(d) ? readdirSync(d, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(d, e.name)) : []);
  const before = new Set(dirs.flatMap(list));
  return {
    async sweep() {
      for (const f of dirs.flatMap(list)) if (!before.has(f)) await fs.rm(f, { force: true });
    },
  };
}

// ---- stand-ins ----

export const STANDINS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'standins');

export interface Standins {
  dir: string;
  // the kernel the agent under test is given: the real one, with the stand-in's mounts as the
  // missing driver would show them
  kernel: Kernel;
  // every recorded call: program name, then its argv
  calls(program?: string): string[][];
  // puts the stand-ins first on this process's PATH: the in-process agent runs them
  use(): void;
  cleanup(): Promise<void>;
}

function unescapeArg(field: string): string {
  return field.replace(/\\(\\|t|n)/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : '\\'));
}

export async function standins(): Promise<Standins> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-standins-'));
  const saved = { PATH: process.env.PATH, MUSTER_STANDIN_DIR: process.env.MUSTER_STANDIN_DIR };
  return {
    dir,
    kernel: standinKernel(dir),
    calls(program) {
      let text = '';
      try {
        text = readFileSync(path.join(dir, 'argv.log'), 'utf8');
      } catch {
        return [];
      }
      return text.split('\n').filter(Boolean).map((l) => l.split('\t').map(unescapeArg)).filter((c) => !program || c[0] === program);
    },
    use() {
      process.env.PATH = `${STANDINS}:${saved.PATH ?? ''}:/usr/local/sbin:/usr/sbin:/sbin`;
      process.env.MUSTER_STANDIN_DIR = dir;
    },
    async cleanup() {
      unmountUnder(dir);
      detachLoopsUnder(dir);
      // Loops the iSCSI stand-in put over LUN files elsewhere are listed in its session file.
      for (const line of readLines(path.join(dir, 'iscsi-sessions'))) sh('losetup', ['-d', line.split(' ')[3]], { allowFailure: true });
      for (const link of readLines(path.join(dir, 'links'))) await fs.rm(link, { force: true });
      // deepest first; a folder something else filled meanwhile stays
      for (const d of readLines(path.join(dir, 'dirs')).reverse()) await fs.rmdir(d).catch(() => undefined);
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

function readLines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

// ---- the timeline ----

async function runOne(h: TempHost, task: DeepPartial<Task>, mode = ApplyMode.APPLY_MODE_APPLY): Promise<TaskResult> {
  // One task's outcome: the removal of an earlier test's mount from the same host is not it.
  const results = (await h.run([task], mode)).results.filter((r) => !r.removal);
  assert.equal(results.length, 1);
  return results[0];
}

export async function applyOk(h: TempHost, task: DeepPartial<Task>, mode = ApplyMode.APPLY_MODE_APPLY): Promise<TaskResult> {
  const r = await runOne(h, task, mode);
  if (r.status === TaskStatus.TASK_STATUS_FAILED) assert.fail(`${r.errorCode}: ${r.errorMessage}`);
  return r;
}

export async function applyFails(h: TempHost, task: DeepPartial<Task>): Promise<TaskResult> {
  const r = await runOne(h, task);
  assert.equal(r.status, TaskStatus.TASK_STATUS_FAILED, `expected a failure, got ${TaskStatus[r.status]}`);
  return r;
}

// The four steps of test/helpers/timeline.ts, for a mount (which needs cleanup that timeline()
// cannot order): changed, ok, outside edit → changed, ok, outside edit in check mode →
// would-change with nothing touched. Then it converges again and removes the mount (absent):
// changed, ok, nothing mounted, no unit left.
// clockMtime lists host folders whose FUSE server reports every file's mtime as the current time
// (rbd-fuse): the check-mode snapshot compares their files by mode and content only.
export async function mountTimeline(h: TempHost, task: DeepPartial<Task>, drift: (h: TempHost) => Promise<void>, clockMtime: string[] = []): Promise<TaskResult> {
  const clockFree = (snap: Record<string, string>) => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(snap)) out[k] = clockMtime.some((d) => ('/' + k).startsWith(d + '/')) ? v.replace(/^(\S+) \S+ /, '$1 - ') : v;
    return out;
  };
  const first = await applyOk(h, task);
  assert.equal(first.status, TaskStatus.TASK_STATUS_CHANGED, 'first apply changes the host');
  assert.ok(first.diffs.length > 0, 'a change comes with a diff');
  assert.equal((await applyOk(h, task)).status, TaskStatus.TASK_STATUS_OK, 'second apply changes nothing');

  await drift(h);
  assert.equal((await applyOk(h, task)).status, TaskStatus.TASK_STATUS_CHANGED, 'apply after an outside edit puts it back');
  assert.equal((await applyOk(h, task)).status, TaskStatus.TASK_STATUS_OK, 'and is converged again');

  await drift(h);
  const before = clockFree(await snapshot(h.root));
  const check = await applyOk(h, task, ApplyMode.APPLY_MODE_CHECK);
  assert.equal(check.status, TaskStatus.TASK_STATUS_WOULD_CHANGE, 'check mode reports the drift');
  assert.deepEqual(clockFree(await snapshot(h.root)), before, 'check mode touched nothing');
  assert.equal((await applyOk(h, task)).status, TaskStatus.TASK_STATUS_CHANGED, 'and apply repairs it');

  const spec = task.mount!;
  const absent = { ...task, mount: { ...spec, state: MountState.MOUNT_STATE_ABSENT } };
  const removed = await applyOk(h, absent);
  assert.equal(removed.status, TaskStatus.TASK_STATUS_CHANGED, 'absent removes the mount');
  assert.equal((await applyOk(h, absent)).status, TaskStatus.TASK_STATUS_OK, 'and is converged');
  assert.equal(isMounted(h.real(spec.target!)), undefined, 'nothing is mounted on the target');
  assert.ok(!existsSync(h.real(unitPath(spec.target!))), 'no unit is left');
  return first;
}

// Drift by hand: an operator edits the unit file.
export const editUnit = (target: string) => async (h: TempHost) => {
  await fs.appendFile(h.real(unitPath(target)), 'Options=rw\n');
};

export const umountTarget = (target: string) => async (h: TempHost) => {
  sh('umount', [h.real(target)]);
};

// ---- GlusterFS ----

export interface Gluster {
  dir: string;
  volume: string;
  brick: string;
  // the gluster CLI against this glusterd
  cli(...args: string[]): string;
  stop(): Promise<void>;
}

// glusterd's management port; the FUSE client fetches the volume file there.
export const GLUSTERD_PORT = 24007;

// A real glusterd with its own working and run folders (glusterd.vol options), listening on
// 127.0.0.1 only, and a one-brick volume on a folder. The brick host is the machine's host name:
// gluster refuses localhost and 127.0.0.1 as brick addresses.
export async function startGluster(dir: string, volume = 'gv0'): Promise<Gluster> {
  const work = path.join(dir, 'work');
  const run = path.join(dir, 'run');
  const brick = path.join(dir, 'brick0');
  for (const d of [work, run, brick]) await fs.mkdir(d, { recursive: true });
  const sock = path.join(run, 'glusterd.socket');
  await fs.writeFile(path.join(dir, 'glusterd.vol'), [
    'volume management',
    '    type mgmt/glusterd',
    `    option working-directory ${work}`,
    `    option run-directory ${run}`,
    `    option glusterd-sockfile ${sock}`,
    '    option transport-type socket',
    '    option transport.socket.bind-address 127.0.0.1',
    `    option transport.socket.listen-port ${GLUSTERD_PORT}`,
    '    option ping-timeout 0',
    '    option event-threads 1',
    'end-volume',
    '',
  ].join('\n'));
  const d = startDaemon('glusterd', 'glusterd', ['--no-daemon', '-f', path.join(dir, 'glusterd.vol'), '-l', path.join(dir, 'glusterd.log'), '-p', path.join(dir, 'glusterd.pid')], path.join(dir, 'glusterd.out'));
  const cli = (...args: string[]) => sh('gluster', [`--glusterd-sock=${sock}`, '--mode=script', ...args]).out;
  // Brick control sockets are the one thing glusterd puts outside its run folder (/var/run/gluster).
  const sockets = () => new Set(readdirSync('/var/run/gluster').filter((n) => n.endsWith('.socket')));
  const before = existsSync('/var/run/gluster') ? sockets() : new Set<string>();
  // glusterd, its bricks, its CLI and every FUSE client log there, whatever the config says
  const logs = newFilesIn(['/var/log/glusterfs', '/var/log/glusterfs/bricks']);
  const g: Gluster = {
    dir,
    volume,
    brick,
    cli,
    async stop() {
      // Stopping the volume ends its brick process; glusterd itself goes by pid.
      if (d.running()) sh('gluster', [`--glusterd-sock=${sock}`, '--mode=script', 'volume', 'stop', volume, 'force'], { allowFailure: true });
      await stopDaemon(d, [GLUSTERD_PORT]);
      if (existsSync('/var/run/gluster')) for (const n of sockets()) if (!before.has(n)) await fs.rm(path.join('/var/run/gluster', n), { force: true });
      await logs.sweep();
    },
  };
  try {
    await waitUntil('glusterd listens', () => isListening('127.0.0.1', GLUSTERD_PORT), 20_000, [d]);
    cli('volume', 'create', volume, `${os.hostname()}:${brick}`, 'force');
    cli('volume', 'start', volume);
    // --xml: the table form wraps long brick paths onto a second line.
    const brickPid = () => /<status>1<\/status>[\s\S]*?<pid>(\d+)<\/pid>/.exec(cli('volume', 'status', volume, '--xml'))?.[1];
    await waitUntil('the brick is online', () => brickPid() !== undefined, 20_000, [d]);
    return g;
  } catch (err) {
    await g.stop();
    throw err;
  }
}

// ---- nfs-ganesha ----

export const NFS_PORT = 2049;

export interface Ganesha {
  daemon: Daemon;
  stop(): Promise<void>;
}

// A real NFSv4 server in userspace (VFS backend) on 127.0.0.1:2049, one export per entry
// (pseudo path → folder). Graceless: no 90 s grace period at start.
export async function startGanesha(dir: string, exports: { pseudo: string; path: string }[]): Promise<Ganesha> {
  await fs.mkdir(path.join(dir, 'recovery'), { recursive: true });
  const conf = [
    'NFS_CORE_PARAM {',
    '  Bind_addr = 127.0.0.1;',
    `  NFS_Port = ${NFS_PORT};`,
    '  Protocols = 4;',
    '  Enable_NLM = false;',
    '  Enable_RQUOTA = false;',
    '}',
    'NFSV4 {',
    '  Graceless = true;',
    '  RecoveryBackend = fs;',
    `  RecoveryRoot = "${path.join(dir, 'recovery')}";`,
    '}',
    ...exports.flatMap((e, i) => [
      'EXPORT {',
      `  Export_Id = ${i + 1};`,
      `  Path = "${e.path}";`,
      `  Pseudo = ${e.pseudo};`,
      '  Access_Type = RW;',
      '  Squash = No_Root_Squash;',
      '  Protocols = 4;',
      '  Transports = TCP;',
      '  FSAL { Name = VFS; }',
      '}',
    ]),
    '',
  ].join('\n');
  await fs.writeFile(path.join(dir, 'ganesha.conf'), conf);
  const daemon = startDaemon('ganesha.nfsd', 'ganesha.nfsd', ['-F', '-f', path.join(dir, 'ganesha.conf'), '-L', path.join(dir, 'ganesha.log'), '-p', path.join(dir, 'ganesha.pid'), '-N', 'NIV_EVENT'], path.join(dir, 'ganesha.out'));
  const g = { daemon, stop: () => stopDaemon(daemon, [NFS_PORT]) };
  try {
    await waitUntil('nfs-ganesha listens', () => isListening('127.0.0.1', NFS_PORT), 20_000, [daemon]);
  } catch (err) {
    await g.stop();
    throw err;
  }
  return g;
}

// ---- tgt (iSCSI target) ----

export interface Tgt {
  portal: string;
  admin(...args: string[]): string;
  stop(): Promise<void>;
}

// A real iSCSI target (tgtd) on 127.0.0.1:<port> with its own control socket number, so it
// neither sees nor disturbs a tgtd of the machine. One target, LUN 1 over a file, CHAP required
// when a user is given.
export async function startTgt(dir: string, port: number, target: { iqn: string; lunFile: string; chap?: { user: string; password: string } }): Promise<Tgt> {
  const control = String(1000 + (port % 1000));
  const daemon = startDaemon('tgtd', 'tgtd', ['-f', '-C', control, '--iscsi', `portal=127.0.0.1:${port}`], path.join(dir, 'tgtd.log'));
  const admin = (...args: string[]) => sh('tgtadm', ['-C', control, '--lld', 'iscsi', ...args]).out;
  const tgt: Tgt = {
    portal: `127.0.0.1:${port}`,
    admin,
    async stop() {
      // tgtd ignores SIGTERM and refuses to stop while it has targets: remove the target, then ask.
      if (daemon.running()) {
        sh('tgtadm', ['-C', control, '--lld', 'iscsi', '--op', 'delete', '--mode', 'target', '--tid', '1', '--force'], { allowFailure: true });
        sh('tgtadm', ['-C', control, '--op', 'delete', '--mode', 'system'], { allowFailure: true });
      }
      await stopDaemon(daemon, [port]);
      for (const f of [`socket.${control}`, `socket.${control}.lock`]) await fs.rm(path.join('/var/run/tgtd', f), { force: true });
    },
  };
  try {
    await waitUntil('tgtd listens', () => isListening('127.0.0.1', port), 20_000, [daemon]);
    await waitUntil('tgtd takes commands', () => sh('tgtadm', ['-C', control, '--lld', 'iscsi', '--op', 'show', '--mode', 'target'], { allowFailure: true }).code === 0, 10_000, [daemon]);
    admin('--op', 'new', '--mode', 'target', '--tid', '1', '-T', target.iqn);
    admin('--op', 'new', '--mode', 'logicalunit', '--tid', '1', '--lun', '1', '-b', target.lunFile);
    admin('--op', 'bind', '--mode', 'target', '--tid', '1', '-I', 'ALL');
    if (target.chap) {
      admin('--op', 'new', '--mode', 'account', '--user', target.chap.user, '--password', target.chap.password);
      admin('--op', 'bind', '--mode', 'account', '--tid', '1', '--user', target.chap.user);
    }
  } catch (err) {
    await tgt.stop();
    throw err;
  }
  return tgt;
}
