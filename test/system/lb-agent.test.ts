// The load balancer as the agent installs it, with the real haproxy and nginx: a retry goes to
// another server when one apiserver dies (option redispatch), and a config the program rejects
// never reaches the running daemon. The apiservers are stand-ins (TLS servers in this process).
// Needs root and Debian packages haproxy nginx libnginx-mod-stream.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { LB_CHECKS, renderLbFiles, type LbInput, type LbRenderOptions } from '../../controller/render/lb/index.js';
import { exampleLbInput } from '../../controller/render/lb/fixtures.js';
import { ApplyMode, TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { freePort } from '../helpers/fleet.js';
import { tempHost, type TempHost } from '../helpers/host.js';
import { findBinary } from './helpers/etcd.js';
import { haproxyServers, httpGet, httpsGet, selfSignedCert, startFakeApiserver, waitFor, type FakeApiserver } from './helpers/lb.js';

// The check programs live in sbin, which a non-login PATH may lack.
process.env.PATH = `/usr/sbin:/sbin:${process.env.PATH}`;
const tls = selfSignedCert();
const children: ChildProcess[] = [];
after(() => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));

async function apiservers(): Promise<FakeApiserver[]> {
  return Promise.all(['cp-1', 'cp-2', 'cp-3'].map((n) => startFakeApiserver(n, tls)));
}
const stopApiserver = (f: FakeApiserver) => new Promise<void>((resolve) => {
  f.server.close(() => resolve());
  f.server.closeAllConnections();
});

async function lbInput(fakes: FakeApiserver[], kind: LbInput['kind'] = 'haproxy'): Promise<LbInput> {
  return exampleLbInput({ kind, apiPort: await freePort(), backends: fakes.map((f) => ({ name: f.name, address: '127.0.0.1', port: f.port })) });
}

// The LB config as a file task, with the check the renderer names.
function configTask(input: LbInput, options: LbRenderOptions, edit: (text: string) => string = (t) => t) {
  const f = renderLbFiles(input, options)[0];
  return { id: 'lb', notify: ['reload'], file: { path: f.path, content: Buffer.from(edit(f.content)), mode: f.mode, check: { command: f.check } } };
}

async function startHaproxy(h: TempHost, statsPort: number): Promise<ChildProcess> {
  const child = spawn(findBinary('haproxy')!, ['-db', '-f', h.real('/etc/haproxy/haproxy.cfg')], { stdio: 'ignore' });
  children.push(child);
  await waitFor('haproxy /healthz', async () => (await httpGet(statsPort, '/healthz')).status === 200);
  await waitFor('every apiserver to pass its TLS /healthz check', async () =>
    [...(await haproxyServers(statsPort)).values()].filter((s) => s.status === 'UP' && s.check === 'L7OK').length === 3,
  );
  return child;
}

const stopChild = (c: ChildProcess) => new Promise<void>((resolve) => {
  if (c.exitCode !== null || c.signalCode !== null) return resolve();
  c.once('exit', () => resolve());
  c.kill('SIGTERM');
});

// haproxy's own count of connections it moved off a server (wredis), from its CSV stats.
async function redispatches(statsPort: number, server: string): Promise<number> {
  const [header, ...rows] = (await httpGet(statsPort, '/stats;csv')).body.trim().split('\n');
  const cols = header.replace(/^# /, '').split(',');
  const row = rows.map((r) => r.split(',')).find((f) => f[cols.indexOf('pxname')] === 'kube-apiserver' && f[cols.indexOf('svname')] === server);
  return Number(row?.[cols.indexOf('wredis')] ?? 0);
}

// New connections right after one apiserver stopped, before haproxy's checks mark it down.
async function failuresAfterStop(redispatch: boolean): Promise<{ failed: number; moved: number }> {
  const h = await tempHost();
  const fakes = await apiservers();
  try {
    const input = await lbInput(fakes);
    const statsPort = await freePort();
    const options = { haproxyStatsPort: statsPort, paths: { haproxyStatsSocket: h.real('/haproxy.sock') } };
    const task = configTask(input, options, (t) => (redispatch ? t : t.replace(/^ *option redispatch.*\n/m, '')));
    const [r] = (await h.run([task], ApplyMode.APPLY_MODE_APPLY, [{ id: 'reload', command: ['true'], timeoutMs: 5000 }])).results;
    assert.equal(r.status, TaskStatus.TASK_STATUS_CHANGED, r.errorMessage);
    const haproxy = await startHaproxy(h, statsPort);
    await stopApiserver(fakes[1]);
    let failed = 0;
    for (let i = 0; i < 100; i++) {
      const res = await httpsGet(input.apiPort, '/whoami').catch(() => ({ status: 0, body: '' }));
      if (res.status !== 200 || res.body === 'cp-2') failed++;
    }
    const moved = await redispatches(statsPort, 'cp-2');
    await stopChild(haproxy);
    return { failed, moved };
  } finally {
    await Promise.all(fakes.filter((f) => f.server.listening).map(stopApiserver));
    await h.cleanup();
  }
}

test('haproxy with option redispatch: 0 of 100 new connections fail right after an apiserver stops', { timeout: 120_000 }, async (t) => {
  if (!findBinary('haproxy')) return t.skip('haproxy is not installed');
  // Without redispatch, for comparison only: how many fail depends on when the checks mark cp-2 down.
  const without = await failuresAfterStop(false);
  const { failed, moved } = await failuresAfterStop(true);
  console.log(`haproxy, one of three TLS apiservers stopped: ${failed} of 100 new connections failed with option redispatch (${moved} moved off the dead server), ${without.failed} of 100 without`);
  assert.ok(moved > 0, 'connections did reach the dead server and were moved: the test saw the failure it guards against');
  assert.equal(failed, 0);
});

test('haproxy: a config haproxy -c rejects never reaches the running daemon; the old file stays, no reload runs', { timeout: 120_000 }, async (t) => {
  if (!findBinary('haproxy')) return t.skip('haproxy is not installed');
  const h = await tempHost();
  const fakes = await apiservers();
  t.after(async () => {
    await Promise.all(fakes.map(stopApiserver));
    await h.cleanup();
  });
  const input = await lbInput(fakes);
  const statsPort = await freePort();
  const options = { haproxyStatsPort: statsPort, paths: { haproxyStatsSocket: h.real('/haproxy.sock') } };
  const marker = h.real('/reloads');
  const handlers = [{ id: 'reload', command: ['sh', '-c', `echo reload >> ${marker}`], timeoutMs: 5000 }];
  await h.run([configTask(input, options)], ApplyMode.APPLY_MODE_APPLY, handlers);
  const good = await fs.readFile(h.real('/etc/haproxy/haproxy.cfg'), 'utf8');
  await fs.rm(marker);
  const haproxy = await startHaproxy(h, statsPort);
  t.after(() => stopChild(haproxy));

  const broken = configTask(input, options, (text) => text.replace('check check-ssl verify none', 'chek check-ssl verify none'));
  const { results } = await h.run([broken], ApplyMode.APPLY_MODE_APPLY, handlers);
  assert.equal(results[0].status, TaskStatus.TASK_STATUS_FAILED);
  assert.equal(results[0].errorCode, 'CONFIG_CHECK_FAILED');
  assert.match(results[0].errorMessage, /^\/etc\/haproxy\/haproxy.cfg: haproxy -c -f \{\} rejected the new content.*chek/);
  assert.equal(await fs.readFile(h.real('/etc/haproxy/haproxy.cfg'), 'utf8'), good, 'the old file is kept');
  assert.deepEqual((await fs.readdir(h.real('/etc/haproxy'))), ['haproxy.cfg'], 'no temp file left');
  await assert.rejects(fs.stat(marker), 'no reload ran');
  assert.equal((await httpsGet(input.apiPort, '/healthz')).status, 200, 'the daemon still serves');
});

test('nginx: the generated nginx.conf (stream module loaded) passes nginx -t through the agent; one nginx rejects never lands', { timeout: 60_000 }, async (t) => {
  if (!findBinary('nginx')) return t.skip('nginx is not installed');
  const h = await tempHost();
  t.after(h.cleanup);
  const input = exampleLbInput({ kind: 'nginx' });
  const options = { paths: { nginxPidFile: h.real('/nginx.pid'), nginxErrorLog: h.real('/nginx-error.log') } };
  const ok = (await h.run([{ ...configTask(input, options), notify: [] }])).results[0];
  assert.equal(ok.status, TaskStatus.TASK_STATUS_CHANGED, ok.errorMessage);
  const good = await fs.readFile(h.real('/etc/nginx/nginx.conf'), 'utf8');
  const broken = { ...configTask(input, options, (text) => text.replace(/^load_module .*$/m, '')), notify: [] };
  const r = (await h.run([broken])).results[0];
  assert.equal(r.errorCode, 'CONFIG_CHECK_FAILED');
  assert.match(r.errorMessage, /unknown directive "stream" in \/etc\/nginx\/nginx.conf/);
  assert.equal(await fs.readFile(h.real('/etc/nginx/nginx.conf'), 'utf8'), good);
  assert.deepEqual(await fs.readdir(path.dirname(h.real('/etc/nginx/nginx.conf'))), ['nginx.conf']);
});

test('the LB renderer names a check for every LB file', () => {
  assert.deepEqual(LB_CHECKS.haproxy, ['haproxy', '-c', '-f', '{}']);
  for (const f of renderLbFiles(exampleLbInput(), { keepalivedConfigTest: true })) assert.ok(f.check?.includes('{}'), f.path);
});
