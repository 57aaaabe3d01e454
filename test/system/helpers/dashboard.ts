import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { makeFleet, repoRoot, runMuster, type TestFleet } from '../../helpers/fleet.js';

// What the dashboard tests (and the docs' screenshot) run against: a real `muster serve` over
// mutual TLS watching real agents on loopback, worker probes that poll a stand-in kubelet
// /healthz (no kubelet on this machine) which the test turns sick per node, and Debian's chromium
// driven by playwright-core.

export const CHROMIUM = '/usr/bin/chromium';
export const MANAGED_FILE = '/etc/kubernetes/app.conf';
export const WORKER_FILE = '/etc/kubernetes/worker.conf';

export interface NodeSpec {
  roles: string[];
  labels: Record<string, string>;
}

export interface ClientCert {
  certPath: string;
  keyPath: string;
}

export interface DashboardFleet {
  f: TestFleet;
  // Nodes whose stand-in kubelet answers 503 (its probe fails).
  sick: Set<string>;
  // A task file: every node's MANAGED_FILE holds `content`; with `workers`, the workers also get
  // WORKER_FILE holding it (so a rollout of a new `workers` changes the workers only); `extra`
  // is more tasks, as YAML list items.
  tasks(content: string, o?: { workers?: string; extra?: string }): Promise<string>;
  muster(...args: string[]): ReturnType<typeof runMuster>;
  // A muster process left running (a rollout): its exit code and output when it ends.
  start(...args: string[]): { proc: ChildProcess; done: Promise<{ code: number; out: string }> };
  certs: { operator: ClientCert; reader: ClientCert };
  close(): Promise<void>;
}

// An inventory of these nodes (prefix 1..n), the fleet PKI, an operator's and a reader's certificate.
export async function dashboardFleet(nodes: NodeSpec[], prefix: string): Promise<DashboardFleet> {
  const f = await makeFleet(nodes.length, prefix);
  let i = 0;
  const text = await fs.readFile(f.inventoryFile, 'utf8');
  await fs.writeFile(
    f.inventoryFile,
    text.replace(/roles: \[etcd, control-plane\] \}/g, () => {
      const n = nodes[i++];
      return `roles: [${n.roles.join(', ')}], labels: { ${Object.entries(n.labels).map(([k, v]) => `${k}: ${v}`).join(', ')} } }`;
    }),
  );
  const sick = new Set<string>();
  const kubelet = http.createServer((req, res) => {
    const node = (req.url ?? '').split('/')[1];
    if (sick.has(node)) res.writeHead(503).end('kubelet not ready: PLEG is not healthy');
    else res.writeHead(200).end('ok');
  });
  await new Promise<void>((r) => kubelet.listen(0, '127.0.0.1', r));
  const kubeletUrl = `http://127.0.0.1:${(kubelet.address() as AddressInfo).port}`;
  const muster = (...args: string[]) => runMuster(f, ...args);
  const children = new Set<ChildProcess>();
  const start = (...args: string[]) => {
    const proc = spawn(process.execPath, [path.join(repoRoot, 'bin/muster.js'), '-s', f.state, '-i', f.inventoryFile, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(proc);
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise<{ code: number; out: string }>((resolve) =>
      proc.once('exit', (code) => {
        children.delete(proc);
        resolve({ code: code ?? -1, out });
      }),
    );
    return { proc, done };
  };
  const issue = async (name: string, role: string): Promise<ClientCert> => {
    const dir = path.join(f.dir, 'clients');
    const r = await muster('certs', 'issue', name, '--role', role, '-o', dir);
    if (r.code !== 0) throw new Error(`muster certs issue ${name}: ${r.stderr}`);
    return { certPath: path.join(dir, `${name}.crt`), keyPath: path.join(dir, `${name}.key`) };
  };
  return {
    f,
    sick,
    muster,
    start,
    tasks: async (content, { workers, extra = '' } = {}) => {
      const p = path.join(f.dir, `tasks-${content}-${workers ?? ''}.yaml`);
      const worker = workers ? `  - id: worker-conf\n    on: { roles: [worker] }\n    file: { path: ${WORKER_FILE}, content: "${workers}\\n" }\n` : '';
      await fs.writeFile(
        p,
        `probes:\n  - name: kubelet\n    http: { url: "${kubeletUrl}/\${NODE_NAME}/healthz" }\n    intervalSeconds: 1\ntasks:\n  - id: app\n    file: { path: ${MANAGED_FILE}, content: "${content}\\n" }\n${worker}${extra}`,
      );
      return p;
    },
    certs: { operator: await issue('ana', 'operator'), reader: await issue('rita', 'reader') },
    close: async () => {
      for (const c of children) c.kill('SIGTERM');
      await new Promise((r) => kubelet.close(r));
    },
  };
}

export interface Serve {
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

// `muster serve` (the built CLI) on a port of its own choosing; resolves once its API listens.
export async function startServe(f: TestFleet): Promise<Serve> {
  const proc = spawn(process.execPath, [path.join(repoRoot, 'bin/muster.js'), '-s', f.state, '-i', f.inventoryFile, 'serve', '--listen', '127.0.0.1:0', '--no-enroll'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`muster serve did not start in 30 s:\n${out}`)), 30_000);
    const look = (d: Buffer) => {
      out += d.toString();
      const m = /API on (https:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ''));
      }
    };
    proc.stdout!.on('data', look);
    proc.stderr!.on('data', look);
    proc.once('exit', (code) => reject(new Error(`muster serve exited ${code}:\n${out}`)));
  });
  return {
    url,
    proc,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: bash test/system/install-packages.sh installs Debian's chromium`);
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--no-first-run', '--disable-sync'] });
}

// A browser profile holding one client certificate for the controller's origin. The API's server
// certificate is from the fleet CA, which the browser does not know: the test accepts it.
export function withCert(browser: Browser, url: string, cert?: ClientCert, viewport = { width: 1440, height: 1000 }): Promise<BrowserContext> {
  return browser.newContext({ ignoreHTTPSErrors: true, viewport, clientCertificates: cert ? [{ origin: new URL(url).origin, ...cert }] : [] });
}
