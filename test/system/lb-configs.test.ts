// The API load balancer configs, checked by the real programs: haproxy -c, nginx -t, keepalived -t and sh -n,
// then haproxy and nginx run for real on loopback in front of fake TLS apiservers.
// Needs Debian packages: haproxy nginx libnginx-mod-stream keepalived curl (iproute2 for the check script).
// keepalived is only ever config-tested, never started: it would send VRRP adverts to the example peers.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { findBinary } from './helpers/etcd.js';
import { haproxyServers, httpGet, httpsGet, selfSignedCert, startFakeApiserver, waitFor, type FakeApiserver } from './helpers/lb.js';
import { exampleLbInput } from '../../controller/render/lb/fixtures.js';
import {
  renderHaproxy,
  renderKeepalived,
  renderKeepalivedCheckScript,
  renderNginx,
  type LbInput,
  type LbRenderOptions,
} from '../../controller/render/lb/index.js';

// Daemons live in sbin, which a non-login PATH may lack.

/** The binary's path, or marks the test skipped when it is not installed. */
function requireBinary(t: TestContext, name: string): string | undefined {
  const bin = findBinary(name);
  if (!bin) t.skip(`${name} not installed`);
  return bin;
}

interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

function run(cmd: string, args: string[]): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, output: `${r.stdout}${r.stderr}` };
}

/** Like run, but keeps the event loop free: the fake apiservers live in this process. */
function runAsync(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000, env: env ?? process.env });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, output }));
  });
}

function assertAccepted(r: RunResult, what: string): void {
  assert.equal(r.signal, null, `${what} was killed by ${r.signal}:\n${r.output}`);
  assert.equal(r.status, 0, `${what} rejected the config:\n${r.output}`);
}

function assertRejected(r: RunResult, what: string, mention: RegExp): void {
  assert.equal(r.signal, null, `${what} was killed by ${r.signal}:\n${r.output}`);
  assert.notEqual(r.status, 0, `${what} accepted a broken config:\n${r.output}`);
  assert.match(r.output, mention);
}

/** The first non-loopback interface, preferring one that is up: keepalived refuses lo and unknown interfaces. */
function vrrpInterface(): string {
  const names = readdirSync('/sys/class/net').filter((n) => n !== 'lo');
  const info = names.map((name) => {
    const read = (f: string): string => {
      try {
        return readFileSync(`/sys/class/net/${name}/${f}`, 'utf8').trim();
      } catch {
        return '';
      }
    };
    return { name, index: Number(read('ifindex')), up: ['up', 'unknown'].includes(read('operstate')) };
  });
  info.sort((a, b) => Number(b.up) - Number(a.up) || a.index - b.index);
  assert.ok(info[0], 'keepalived -t needs a network interface other than lo, and this machine has none');
  return info[0].name;
}

/** keepalived before 2.2.8 kills itself during -t when script_user is not root (acassen/keepalived#2617). */
function keepalivedConfigTestNeedsRootScriptUser(bin: string): boolean {
  const m = /Keepalived v(\d+)\.(\d+)\.(\d+)/.exec(run(bin, ['--version']).output);
  if (!m) return true;
  const [major, minor, patch] = m.slice(1).map(Number) as [number, number, number];
  return major * 1_000_000 + minor * 1_000 + patch < 2_002_008;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function whoamiThroughLb(port: number, requests: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < requests; i++) {
    const r = await httpsGet(port, '/whoami');
    assert.equal(r.status, 200);
    seen.add(r.body);
  }
  return seen;
}

/** A daemon we started in the foreground; stop() ends exactly that process. */
interface Daemon {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

function startDaemon(cmd: string, args: string[]): Daemon {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killTimer);
    },
  };
}

function exampleWith(iface: string, overrides: Partial<LbInput> = {}): LbInput {
  const input = exampleLbInput(overrides);
  input.lbNodes = input.lbNodes.map((n) => ({ ...n, interface: iface }));
  return input;
}

let dir = '';

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-lb-'));
});

after(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe('lb configs pass the real validators', () => {
  it('haproxy -c accepts haproxy.cfg without warnings', async (t) => {
    const haproxy = requireBinary(t, 'haproxy');
    if (!haproxy) return;
    const cfg = path.join(dir, 'haproxy.cfg');
    await fs.writeFile(cfg, renderHaproxy(exampleLbInput()));
    const r = run(haproxy, ['-c', '-f', cfg]);
    assertAccepted(r, 'haproxy -c');
    assert.doesNotMatch(r.output, /\[(WARNING|ALERT)\]/);
  });

  it('haproxy -c rejects a config with a broken line', async (t) => {
    const haproxy = requireBinary(t, 'haproxy');
    if (!haproxy) return;
    const cfg = path.join(dir, 'haproxy-broken.cfg');
    const broken = renderHaproxy(exampleLbInput()).replace(
      '    server cp-2 192.0.2.12:6443 check check-ssl verify none',
      '    server cp-2 192.0.2.12:6443 chek check-ssl verify none',
    );
    assert.match(broken, /chek/, 'the broken line was not spliced in');
    await fs.writeFile(cfg, broken);
    assertRejected(run(haproxy, ['-c', '-f', cfg]), 'haproxy -c', /chek/);
  });

  it('nginx -t accepts nginx.conf without warnings', async (t) => {
    const nginx = requireBinary(t, 'nginx');
    if (!nginx) return;
    const conf = path.join(dir, 'nginx.conf');
    const options: LbRenderOptions = {
      paths: { nginxPidFile: path.join(dir, 'nginx.pid'), nginxErrorLog: path.join(dir, 'nginx-error.log') },
    };
    await fs.writeFile(conf, renderNginx(exampleLbInput({ kind: 'nginx' }), options));
    // -e: nginx opens its startup error log before it reads the config; keep that in the temp folder too.
    const r = run(nginx, ['-t', '-c', conf, '-e', path.join(dir, 'nginx-startup.log')]);
    assertAccepted(r, 'nginx -t');
    assert.match(r.output, /test is successful/);
    assert.doesNotMatch(r.output, /\[(warn|emerg|alert|crit)\]/);
  });

  it('nginx -t rejects nginx.conf without the stream module', async (t) => {
    const nginx = requireBinary(t, 'nginx');
    if (!nginx) return;
    const conf = path.join(dir, 'nginx-broken.conf');
    const options: LbRenderOptions = {
      paths: { nginxPidFile: path.join(dir, 'nginx.pid'), nginxErrorLog: path.join(dir, 'nginx-error.log') },
    };
    const broken = renderNginx(exampleLbInput({ kind: 'nginx' }), options).replace(/^load_module .*$/m, '');
    assert.doesNotMatch(broken, /load_module/);
    await fs.writeFile(conf, broken);
    const r = run(nginx, ['-t', '-c', conf, '-e', path.join(dir, 'nginx-startup.log')]);
    assertRejected(r, 'nginx -t', /unknown directive "stream"/);
  });

  it('keepalived -t accepts keepalived.conf of every lb node', async (t) => {
    const keepalived = requireBinary(t, 'keepalived');
    if (!keepalived) return;
    const iface = vrrpInterface();
    const input = exampleWith(iface);
    const script = path.join(dir, 'check_apiserver.sh');
    const options: LbRenderOptions = {
      paths: { keepalivedCheckScript: script },
      keepalivedScriptUser: keepalivedConfigTestNeedsRootScriptUser(keepalived) ? 'root' : undefined,
    };
    // keepalived -t disables (and fails on) a track script that does not exist or is not executable.
    await fs.writeFile(script, renderKeepalivedCheckScript(input, options), { mode: 0o755 });
    for (const node of input.lbNodes) {
      const conf = path.join(dir, `keepalived-${node.name}.conf`);
      await fs.writeFile(conf, renderKeepalived({ ...input, self: node.name }, options), { mode: 0o600 });
      const r = run(keepalived, ['--config-test', '--log-console', '--use-file', conf]);
      assertAccepted(r, `keepalived -t (${node.name}, interface ${iface})`);
      assert.doesNotMatch(r.output, /error|warning|unknown|missing|disabling|not found/i);
    }
  });

  it('keepalived -t rejects a broken keepalived.conf', async (t) => {
    const keepalived = requireBinary(t, 'keepalived');
    if (!keepalived) return;
    const input = exampleWith(vrrpInterface());
    const script = path.join(dir, 'check_apiserver.sh');
    const options: LbRenderOptions = { paths: { keepalivedCheckScript: script }, keepalivedScriptUser: 'root' };
    await fs.writeFile(script, renderKeepalivedCheckScript(input, options), { mode: 0o755 });
    const good = renderKeepalived(input, options);
    const cases: [string, string, RegExp][] = [
      ['router id', good.replace('virtual_router_id 51', 'virtual_router_id 300'), /300/],
      ['keyword', good.replace('    nopreempt', '    nopreemt'), /nopreemt/],
      ['interface', good.replace(/interface \S+/, 'interface muster-nosuch0'), /muster-nosuch0/],
      ['script', good.replace(script, path.join(dir, 'missing.sh')), /track script|not found|missing/i],
    ];
    for (const [what, broken, mention] of cases) {
      assert.notEqual(broken, good, `the broken ${what} was not spliced in`);
      const conf = path.join(dir, `keepalived-broken.conf`);
      await fs.writeFile(conf, broken, { mode: 0o600 });
      assertRejected(run(keepalived, ['--config-test', '--log-console', '--use-file', conf]), `keepalived -t (${what})`, mention);
    }
  });

  it('sh -n accepts the check script and rejects a truncated one', async (t) => {
    const sh = requireBinary(t, 'sh');
    if (!sh) return;
    const script = path.join(dir, 'check-syntax.sh');
    const text = renderKeepalivedCheckScript(exampleLbInput());
    await fs.writeFile(script, text, { mode: 0o755 });
    assertAccepted(run(sh, ['-n', script]), 'sh -n');
    await fs.writeFile(script, text.replace(/^fi$/m, ''), { mode: 0o755 });
    assertRejected(run(sh, ['-n', script]), 'sh -n', /end of file|unexpected/i);
  });
});

describe('check script decides from what it sees', () => {
  // Stub ip and curl: the script's logic is checked without touching the VIP, which must not be probed from here.
  async function runWithStubs(sh: string, vip: string, ipShows: string, curlFailsFor?: string): Promise<{ r: RunResult; probed: string[] }> {
    const stubs = await fs.mkdtemp(path.join(dir, 'stubs-'));
    const log = path.join(stubs, 'curl.log');
    await fs.writeFile(path.join(stubs, 'ip'), `#!/bin/sh\necho '2: eth0    inet ${ipShows}/24 brd 192.0.2.255 scope global eth0'\n`, { mode: 0o755 });
    const fail = curlFailsFor ? `case "$*" in *//${curlFailsFor}:*) exit 7;; esac\n` : '';
    await fs.writeFile(path.join(stubs, 'curl'), `#!/bin/sh\nfor a; do last=$a; done\necho "$last" >> ${log}\n${fail}exit 0\n`, { mode: 0o755 });
    const script = path.join(stubs, 'check.sh');
    await fs.writeFile(script, renderKeepalivedCheckScript(exampleLbInput({ vip })), { mode: 0o755 });
    const r = await runAsync(sh, [script], { PATH: `${stubs}:/usr/bin:/bin` });
    const probed = (await fs.readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    return { r, probed };
  }

  it('probes the VIP only while this node holds exactly that address', async (t) => {
    const sh = requireBinary(t, 'sh');
    if (!sh) return;
    const holder = await runWithStubs(sh, '192.0.2.100', '192.0.2.100');
    assertAccepted(holder.r, 'check script on the VIP holder');
    assert.deepEqual(holder.probed, ['https://127.0.0.1:6443/healthz', 'https://192.0.2.100:6443/healthz']);
    // 192.0.2.10 is a prefix of 192.0.2.100: a bare grep would wrongly think the VIP is here.
    const backup = await runWithStubs(sh, '192.0.2.10', '192.0.2.100');
    assertAccepted(backup.r, 'check script on a backup');
    assert.deepEqual(backup.probed, ['https://127.0.0.1:6443/healthz']);
  });

  it('fails when the VIP does not answer on the node holding it', async (t) => {
    const sh = requireBinary(t, 'sh');
    if (!sh) return;
    const { r } = await runWithStubs(sh, '192.0.2.100', '192.0.2.100', '192.0.2.100');
    assert.equal(r.status, 1, r.output);
    assert.match(r.output, /GET https:\/\/192\.0\.2\.100:6443\/healthz failed/);
  });
});

describe('lb configs carry traffic to fake apiservers on loopback', () => {
  const fakes: FakeApiserver[] = [];
  const daemons: Daemon[] = [];

  before(async () => {
    const tls = selfSignedCert();
    for (const name of ['cp-1', 'cp-2', 'cp-3']) fakes.push(await startFakeApiserver(name, tls));
  });

  after(async () => {
    for (const d of daemons) await d.stop();
    for (const f of fakes) await new Promise<void>((resolve) => f.server.close(() => resolve()));
  });

  async function loopbackInput(kind: LbInput['kind']): Promise<LbInput> {
    return exampleLbInput({
      kind,
      apiPort: await freePort(),
      backends: fakes.map((f) => ({ name: f.name, address: '127.0.0.1', port: f.port })),
    });
  }

  it('haproxy balances over every apiserver, drops one failing /healthz, and the check script follows it', async (t) => {
    const haproxy = requireBinary(t, 'haproxy');
    const sh = findBinary('sh');
    const curl = requireBinary(t, 'curl');
    if (!haproxy || !sh || !curl) return;
    for (const f of fakes) f.healthy = true;
    const input = await loopbackInput('haproxy');
    const statsPort = await freePort();
    // The runtime socket's Debian directory is made by systemd, which may not run here.
    const options: LbRenderOptions = { haproxyStatsPort: statsPort, paths: { haproxyStatsSocket: path.join(dir, 'haproxy.sock') } };
    const cfg = path.join(dir, 'haproxy-live.cfg');
    await fs.writeFile(cfg, renderHaproxy(input, options));
    assertAccepted(run(haproxy, ['-c', '-f', cfg]), 'haproxy -c');

    const daemon = startDaemon(haproxy, ['-db', '-f', cfg]);
    daemons.push(daemon);
    await waitFor(`haproxy on port ${statsPort}\n${daemon.output()}`, async () => (await httpGet(statsPort, '/healthz')).status === 200);
    const servers = async (): Promise<Map<string, { status: string; check: string }>> => haproxyServers(statsPort);
    // Servers start UP before any check ran; wait for a passed TLS /healthz check on each.
    await waitFor('every apiserver to pass its TLS /healthz check', async () =>
      [...(await servers()).values()].filter((s) => s.status === 'UP' && s.check === 'L7OK').length === 3,
    );

    assert.deepEqual([...(await whoamiThroughLb(input.apiPort, 6))].sort(), ['cp-1', 'cp-2', 'cp-3']);

    const script = path.join(dir, 'check-haproxy.sh');
    await fs.writeFile(script, renderKeepalivedCheckScript(input), { mode: 0o755 });
    assertAccepted(await runAsync(sh, [script]), 'check script with haproxy up');

    // A sick apiserver still accepts TCP and TLS, so only the HTTP status of /healthz can take it out of rotation.
    fakes[1]!.healthy = false;
    await waitFor('haproxy to mark cp-2 DOWN on its 500', async () => {
      const cp2 = (await servers()).get('cp-2');
      return cp2?.status === 'DOWN' && cp2.check === 'L7STS';
    });
    assert.deepEqual([...(await whoamiThroughLb(input.apiPort, 6))].sort(), ['cp-1', 'cp-3']);
    fakes[1]!.healthy = true;

    await daemon.stop();
    const down = await runAsync(sh, [script]);
    assert.equal(down.status, 1, `check script passed with no load balancer:\n${down.output}`);
    assert.match(down.output, new RegExp(`https://127\\.0\\.0\\.1:${input.apiPort}/healthz failed`));
  });

  it('nginx balances over every apiserver', async (t) => {
    const nginx = requireBinary(t, 'nginx');
    if (!nginx) return;
    const input = await loopbackInput('nginx');
    const options: LbRenderOptions = {
      paths: { nginxPidFile: path.join(dir, 'nginx-live.pid'), nginxErrorLog: path.join(dir, 'nginx-live-error.log') },
    };
    const conf = path.join(dir, 'nginx-live.conf');
    await fs.writeFile(conf, renderNginx(input, options));
    const daemon = startDaemon(nginx, ['-c', conf, '-e', path.join(dir, 'nginx-startup.log'), '-g', 'daemon off;']);
    daemons.push(daemon);
    await waitFor(`nginx on port ${input.apiPort}\n${daemon.output()}`, async () => (await httpsGet(input.apiPort, '/healthz')).status === 200);
    assert.deepEqual([...(await whoamiThroughLb(input.apiPort, 6))].sort(), ['cp-1', 'cp-2', 'cp-3']);
    await daemon.stop();
  });
});
