// Prometheus' own linter on both /metrics pages, scraped for real: a musterd process with a
// certificate, a failing probe and an applied plan, and `muster serve` watching it.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { test } from 'node:test';
import { Fleet } from '../../controller/fleet/fleet.js';
import { readFleetCredentials } from '../../controller/pki/fleet.js';
import { VERSION } from '../../common/version.js';
import { ApplyMode, Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import { apiClient } from '../helpers/api.js';
import { testCerts } from '../helpers/certs.js';
import { freePort, makeFleet, repoRoot, spawnAgents, waitForPort } from '../helpers/fleet.js';
import { requireBinaries } from './helpers/mount.js';

function promtool(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return res.text();
}

async function until<T>(what: string, ms: number, poll: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await poll().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('promtool: the linter rejects what the issue found (a gauge in days), so a pass below means something', (t) => {
  if (!requireBinaries(t, 'promtool')) return;
  const bad = promtool('# HELP muster_agent_certificate_days_left Days left.\n# TYPE muster_agent_certificate_days_left gauge\nmuster_agent_certificate_days_left 30\n# HELP x_total A gauge.\n# TYPE x_total gauge\nx_total 1\n');
  assert.notEqual(bad.status, 0);
  assert.match(bad.output, /use base unit "seconds" instead of "days"/);
  assert.match(bad.output, /non-counter metrics should not have "_total" suffix/);
});

test('promtool check metrics passes on the agent\'s and on muster serve\'s /metrics', { timeout: 120_000 }, async (t) => {
  if (!requireBinaries(t, 'promtool')) return;
  const f = await makeFleet(1, 'pm');
  const httpPort = await freePort();
  const servePort = await freePort();
  const started: { agents?: Awaited<ReturnType<typeof spawnAgents>>; serve?: ChildProcess; fleet?: Fleet } = {};
  t.after(async () => {
    started.fleet?.close();
    if (started.serve && started.serve.exitCode === null) {
      const exited = new Promise((r) => started.serve!.once('exit', r));
      started.serve.kill('SIGTERM');
      await exited;
    }
    await started.agents?.stop();
    await f.cleanup();
  });
  const node = f.inventory.nodes[0];
  started.agents = await spawnAgents(f, { http: (name) => (name === node.name ? `127.0.0.1:${httpPort}` : 'off') });
  await waitForPort('127.0.0.1', httpPort, 20_000);

  // A plan with a file, a certificate (its expiry and the certificates probe) and a probe that fails.
  const { leaf } = testCerts();
  const plan = Plan.fromPartial({
    node: node.name,
    revision: 'r1',
    tasks: [
      { id: 'conf', file: { path: '/etc/kubernetes/a.conf', content: Buffer.from('a\n') } },
      { id: 'cert', certificate: { certPath: '/srv/kubernetes/server.cert', keyPath: '/srv/kubernetes/server.key', certPem: leaf.certPem, keyPem: leaf.keyPem } },
    ],
    probes: [{ name: 'kubelet', intervalMs: 200, timeoutMs: 500, http: { url: `http://127.0.0.1:${await freePort()}/healthz` } }],
  });
  started.fleet = new Fleet(f.inventory.nodes, await readFleetCredentials(f.state));
  const out = await started.fleet.run([plan], { mode: ApplyMode.APPLY_MODE_APPLY, concurrency: 1, timeoutMs: 20_000 });
  assert.equal(out[0].summary?.converged, true, out[0].error);

  const agentText = await until('the failing probe in /metrics', 10_000, async () => {
    const text = await scrape(httpPort);
    return /muster_agent_probe_state\{probe="kubelet",state="failed"\} 1/.test(text) ? text : undefined;
  });
  const agentLint = promtool(agentText);
  assert.equal(agentLint.status, 0, agentLint.output);
  const notAfter = new X509Certificate(leaf.certPem).validToDate.getTime() / 1000;
  assert.match(agentText, new RegExp(`muster_agent_certificate_expiry_timestamp_seconds\\{path="/srv/kubernetes/server.cert"\\} ${notAfter}\\n`));
  assert.match(agentText, /muster_agent_probe_state\{probe="certificates",state="healthy"\} 1/);
  assert.match(agentText, new RegExp(`muster_build_info\\{program="musterd",version="${VERSION}",nodejs="v\\d+\\.\\d+\\.\\d+"\\} 1`));
  assert.match(agentText, /muster_agent_tasks_total\{kind="certificate",status="changed"\} 1/);
  assert.match(agentText, /^process_resident_memory_bytes \d+/m);
  assert.match(agentText, /^process_cpu_seconds_total \d/m);

  started.serve = spawn(process.execPath, [path.join(repoRoot, 'bin/muster.js'), 'serve', '-i', f.inventoryFile, '-s', f.state, '--listen', `127.0.0.1:${servePort}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForPort('127.0.0.1', servePort, 30_000);
  // serve's API takes fleet client certificates only: a reader, as Prometheus would scrape with.
  const reader = await apiClient(f.state, `https://127.0.0.1:${servePort}`, 'reader', 'prometheus');
  t.after(() => reader.close());
  const serveText = await until('the agent\'s certificate in serve\'s /metrics', 15_000, async () => {
    const text = await reader.text('/metrics');
    return /muster_fleet_certificate_expiry_timestamp_seconds\{node="pm1"\}/.test(text) ? text : undefined;
  });
  const serveLint = promtool(serveText);
  assert.equal(serveLint.status, 0, serveLint.output);
  assert.match(serveText, new RegExp(`muster_fleet_certificate_expiry_timestamp_seconds\\{node="pm1"\\} ${notAfter}\\n`));
  assert.match(serveText, /muster_fleet_nodes\{state="not-ready"\} 1/);
  assert.match(serveText, /muster_fleet_probe_failures\{node="pm1",probe="kubelet"\} 1/);
  assert.match(serveText, new RegExp(`muster_build_info\\{program="muster",version="${VERSION}"`));
  assert.match(serveText, /^process_resident_memory_bytes \d+/m);
});
