// A real systemd-journald (in a private mount namespace, so its sockets and journal files are
// the test's own) and musterd under systemd-cat, as systemd runs it: each log line lands at its
// level's priority, and `journalctl -p warning` finds the warnings and nothing below them.
// systemd-cat (systemd 252) does not set JOURNAL_STREAM as a unit does, so the wrapper sets it
// to the journal socket's device:inode, the value systemd would give.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { Fleet } from '../../controller/fleet/fleet.js';
import { fleetStore, readFleetCredentials } from '../../controller/pki/fleet.js';
import { ApplyMode, Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import { makeFleet, repoRoot, waitForPort } from '../helpers/fleet.js';
import { requireBinaries } from './helpers/mount.js';

const JOURNALD = '/lib/systemd/systemd-journald';
const PRIORITY_OF_LEVEL: Record<number, string> = { 60: '2', 50: '3', 40: '4', 30: '6', 20: '7', 10: '7' };

interface Entry {
  PRIORITY: string;
  MESSAGE: string;
  SYSLOG_IDENTIFIER: string;
}

test('journald: musterd lines arrive as JSON at their level\'s priority', { timeout: 120_000 }, async (t) => {
  if (!requireBinaries(t, 'unshare', 'nsenter', 'systemd-cat', 'journalctl', 'stat')) return;
  if (!(await fs.stat(JOURNALD).catch(() => undefined))) return t.skip(`${JOURNALD} not installed`);
  const f = await makeFleet(1, 'jd');
  const node = f.inventory.nodes[0];
  const ident = `musterd-test-${process.pid}`;
  const running: ChildProcess[] = [];
  t.after(async () => {
    for (const p of running.reverse()) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    }
    await f.cleanup();
  });

  // unshare execs journald in place: its pid names the namespace for nsenter.
  const journald = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
    `mount -t tmpfs tmpfs /run/systemd && mount -t tmpfs tmpfs /run/log && mount -t tmpfs tmpfs /var/log/journal && exec ${JOURNALD}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  running.push(journald);
  const inNamespace = (cmd: string, args: string[]) => ['--target', String(journald.pid), '--mount', '--', cmd, ...args];
  for (let i = 0; ; i++) {
    if (spawnSync('nsenter', inNamespace('test', ['-S', '/run/systemd/journal/stdout'])).status === 0) break;
    if (i > 100) throw new Error('journald did not open its stdout socket within 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }

  const store = fleetStore(f.state);
  await fs.mkdir(f.nodeRoot(node.name), { recursive: true });
  const musterd = (tlsCa: string) => spawn('nsenter', inNamespace('systemd-cat', ['-t', ident, '--', 'sh', '-c',
    'export JOURNAL_STREAM="$(stat -L -c %d:%i /proc/$$/fd/1)"; exec "$@"', 'sh',
    process.execPath, path.join(repoRoot, 'bin/musterd.js'), '--name', node.name, '--listen', `127.0.0.1:${node.agentPort}`, '--http', 'off',
    '--root', f.nodeRoot(node.name), '--tls-ca', tlsCa, '--tls-cert', store.file(`agents/${node.name}`, 'crt'), '--tls-key', store.file(`agents/${node.name}`, 'key'),
    '--log-level', 'info']), { stdio: ['ignore', 'ignore', 'inherit'] });

  // A start that fails (the CA file is missing): a fatal line.
  const failing = musterd(path.join(f.dir, 'no-such-ca.crt'));
  running.push(failing);
  assert.equal(await new Promise((r) => failing.once('exit', r)), 1);

  // A real run: started (info), an outside edit repaired (warn), stopped (info).
  const agent = musterd(store.file('ca', 'crt'));
  running.push(agent);
  await waitForPort('127.0.0.1', node.agentPort, 20_000);
  const fleet = new Fleet(f.inventory.nodes, await readFleetCredentials(f.state));
  t.after(() => fleet.close());
  const content = 'planned\n';
  const out = await fleet.run([Plan.fromPartial({ node: node.name, revision: 'r1', tasks: [{ id: 'conf', file: { path: '/etc/kubernetes/a.conf', content: Buffer.from(content) } }] })], { mode: ApplyMode.APPLY_MODE_APPLY, concurrency: 1, timeoutMs: 20_000 });
  assert.equal(out[0].summary?.converged, true, out[0].error);
  const file = path.join(f.nodeRoot(node.name), 'etc/kubernetes/a.conf');
  // The watcher starts following the plan just after the apply returns: edit again until one is seen.
  const deadline = Date.now() + 30_000;
  for (let repaired = false; !repaired; ) {
    if (Date.now() > deadline) throw new Error('no edit was repaired within 30 s');
    await fs.writeFile(file, 'edited\n');
    for (let i = 0; i < 40 && !repaired; i++) {
      await new Promise((r) => setTimeout(r, 50));
      repaired = (await fs.readFile(file, 'utf8')) === content;
    }
  }
  const exited = new Promise((r) => agent.once('exit', r));
  agent.kill('SIGTERM');
  assert.equal(await exited, 0);

  const journal = (args: string[]): Entry[] => {
    const r = spawnSync('nsenter', inNamespace('journalctl', ['--no-pager', '-o', 'json', '-t', ident, ...args]), { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Entry);
  };
  const all = journal([]);
  const lines = all.map((e) => ({ priority: e.PRIORITY, line: JSON.parse(e.MESSAGE) as { level: number; msg: string } }));
  for (const { priority, line } of lines) assert.equal(priority, PRIORITY_OF_LEVEL[line.level], `${line.msg}: level ${line.level} at priority ${priority}`);
  const msgs = (min: string) => lines.filter((l) => l.priority === min).map((l) => l.line.msg);
  assert.deepEqual(msgs('2'), ['agent failed to start']);
  assert.ok(msgs('4').includes('drift'), `warnings: ${msgs('4').join(', ')}`);
  assert.ok(msgs('6').includes('agent started') && msgs('6').some((m) => m.startsWith('stopping')), `info: ${msgs('6').join(', ')}`);

  // What an operator types: only warning and worse.
  const warnings = journal(['-p', 'warning']);
  assert.ok(warnings.length >= 2);
  assert.ok(warnings.every((e) => Number(e.PRIORITY) <= 4), warnings.map((e) => e.PRIORITY).join(','));
  assert.equal(warnings.length, lines.filter((l) => l.line.level >= 40).length);
});
