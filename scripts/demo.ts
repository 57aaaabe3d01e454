// npm run demo: a real local fleet converged end to end on loopback.
// Three musterd processes, each with its own root folder and loopback address, a fleet CA from
// `muster init`, then plan → apply → apply again (nothing changes) → an outside edit → plan
// finds it → apply puts it back. Every step is checked; any surprise fails the demo.
// npm run demo -- --ha: the same with the seed's ten-node HA cluster from one cluster spec.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ALLOWED_TREES } from '../agent/host/path-policy.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const demo = path.resolve(process.env.MUSTER_DEMO_DIR ?? path.join(repo, 'demo'));
const ha = process.argv.includes('--ha');
const example = path.join(repo, ha ? 'examples/ha-cluster/local' : 'examples/demo');
const state = path.join(demo, 'state');
const inventory = path.join(example, 'inventory.yaml');
// What plan and apply converge: the cluster spec, or the demo's task file.
const input = ha ? ['-c', path.join(example, 'cluster.yaml')] : ['-t', path.join(example, 'tasks.yaml')];
const nodes = [...fs.readFileSync(inventory, 'utf8').matchAll(/name: (\w+), address: ([\d.]+)|- name: (\w+)\n\s+address: ([\d.]+)/g)].map((m) => ({ name: m[1] ?? m[3], ip: m[2] ?? m[4] }));
const AGENT_PORT = 17443;
const HTTP_PORT = 17444;
const procs: ChildProcess[] = [];

function step(title: string) {
  console.log(`\n\x1b[1m==> ${title}\x1b[0m`);
}

function muster(args: string[], expectCode: number): string {
  console.log(`$ muster ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [path.join(repo, 'bin/muster.js'), '-s', state, '-i', inventory, ...args], { encoding: 'utf8' });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  if (r.status !== expectCode) throw new Error(`muster ${args[0]} exited ${r.status}, expected ${expectCode}`);
  return r.stdout;
}

async function waitForPort(host: string, port: number, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host, () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`agent at ${host}:${port} did not start; see ${path.join(demo, 'logs')}`);
}

async function stopAll() {
  await Promise.all(procs.map((p) => new Promise<void>((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  })));
}

async function main() {
  fs.rmSync(demo, { recursive: true, force: true });
  fs.mkdirSync(path.join(demo, 'logs'), { recursive: true });

  step('muster init: a fleet CA, a controller certificate, one certificate per agent');
  muster(['init'], 0);

  step(`start ${nodes.length} agents (musterd), each its own process, root folder and loopback address`);
  const pki = path.join(state, 'pki/fleet');
  // The cluster spec also writes containerd's and crictl's config, outside the default trees.
  const config = path.join(demo, 'musterd.yaml');
  fs.writeFileSync(config, `allowedTrees: ${JSON.stringify([...DEFAULT_ALLOWED_TREES, '/etc/containerd', '/etc/crictl.yaml'])}\n`);
  for (const n of nodes) {
    const root = path.join(demo, 'nodes', n.name);
    fs.mkdirSync(root, { recursive: true });
    const log = fs.openSync(path.join(demo, 'logs', `${n.name}.log`), 'w');
    const args = [
      path.join(repo, 'bin/musterd.js'),
      '--config', config,
      '--name', n.name,
      '--listen', `${n.ip}:${AGENT_PORT}`,
      '--http', `${n.ip}:${HTTP_PORT}`,
      '--root', root,
      '--tls-ca', path.join(pki, 'ca.crt'),
      '--tls-cert', path.join(pki, 'agents', `${n.name}.crt`),
      '--tls-key', path.join(pki, 'agents', `${n.name}.key`),
    ];
    procs.push(spawn(process.execPath, args, { stdio: ['ignore', log, log] }));
    console.log(`musterd ${n.name}: gRPC ${n.ip}:${AGENT_PORT}, HTTP ${n.ip}:${HTTP_PORT}, root ${path.relative(repo, root)}`);
  }
  await Promise.all(nodes.map((n) => waitForPort(n.ip, AGENT_PORT)));

  if (ha) {
    step('muster validate: load and render every node\'s plan, contacting no agent');
    muster(['validate', ...input], 0);
  }

  step('muster plan: what would change on which node (exit code 2: changes pending)');
  muster(['plan', ...input, '--no-diff'], 2);

  step('muster apply: converge the fleet');
  muster(['apply', ...input, '--no-diff'], 0);

  step('muster apply again: nothing changes');
  const second = muster(['apply', ...input], 0);
  if (!new RegExp(`${nodes.length} nodes in \\d+ ms: 0 changed, ${nodes.length} ok, 0 failed, 0 unreachable`).test(second)) throw new Error('the second apply changed something');

  step('an outside edit: delete m2\'s etcd manifest and replace a certificate with m1\'s; the agent puts both back by itself');
  const m2 = path.join(demo, 'nodes/m2');
  const manifest = path.join(m2, 'etc/kubernetes/manifests/etcd.yaml');
  const serverCert = path.join(m2, ha ? 'etc/kubernetes/pki/etcd/server.crt' : 'srv/kubernetes/server.cert');
  const planned = { manifest: fs.readFileSync(manifest, 'utf8'), cert: fs.readFileSync(serverCert, 'utf8') };
  const started = Date.now();
  fs.rmSync(manifest);
  fs.copyFileSync(path.join(demo, 'nodes/m1', path.relative(m2, serverCert)), serverCert);
  const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
  while (read(manifest) !== planned.manifest || read(serverCert) !== planned.cert) {
    if (Date.now() - started > 5000) throw new Error('the agent did not repair m2 within 5 s');
    await new Promise((r) => setTimeout(r, 5));
  }
  console.log(`both back after ${Date.now() - started} ms, with no controller involved (see demo/logs/m2.log: "drift")`);
  muster(['plan', ...input, '--no-diff'], 0);

  step('muster status');
  muster(['status'], 0);

  if (ha) {
    step('muster certs check-expiration');
    muster(['certs', 'check-expiration'], 0);
  }

  step('agent health endpoints');
  for (const n of nodes) {
    const res = await fetch(`http://${n.ip}:${HTTP_PORT}/readyz`);
    console.log(`GET http://${n.ip}:${HTTP_PORT}/readyz → ${res.status} ${await res.text()}`);
    // The HA nodes probe a kubelet, etcd and API servers that do not run on loopback: not ready, and they say why.
    if (!ha && res.status !== 200) throw new Error(`${n.name} is not ready`);
  }

  step('where to look');
  console.log(`node roots:      ${path.relative(repo, path.join(demo, 'nodes'))}/<node>/etc/kubernetes/manifests, .../srv/kubernetes`);
  console.log(`agent state:     ${path.relative(repo, path.join(demo, 'nodes'))}/<node>/var/lib/musterd (last plan, status, backups)`);
  console.log(`agent logs:      ${path.relative(repo, path.join(demo, 'logs'))}/<node>.log (pino JSON)`);
  console.log(`controller PKI:  ${path.relative(repo, path.join(state, 'pki'))} (fleet/ for muster, cluster/ for Kubernetes)`);
  console.log(`the inputs:      ${path.relative(repo, inventory)}, ${path.relative(repo, input[1])}`);
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  console.error(`\ndemo failed: ${(err as Error).message}`);
} finally {
  step('stopping the agents');
  await stopAll();
  console.log(failed ? 'stopped.' : `stopped. The demo converged ${nodes.length} nodes over mutual TLS.`);
}
process.exitCode = failed ? 1 : 0;
