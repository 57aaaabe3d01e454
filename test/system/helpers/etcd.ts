// Real etcd processes for system tests: start a member, wait for /health, run etcdctl,
// and stop by pid (never by name) until the process is gone and its ports are closed.
// Needs Debian packages etcd-server (etcd 3.4) and etcd-client (etcdctl).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface TlsClientOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
}

export interface EtcdMemberOptions {
  name: string;
  dataDir: string;
  clientPort: number;
  peerPort: number;
  // Where the member listens and advertises; loopback by default.
  host?: string;
  clientScheme?: 'http' | 'https';
  peerScheme?: 'http' | 'https';
  // Extra flags: --discovery, --initial-cluster*, TLS files, tuning.
  args?: string[];
  // Added to the (ETCD_*-free) environment.
  env?: NodeJS.ProcessEnv;
  // stdout and stderr go here; defaults to <dataDir>.log.
  logFile?: string;
  binary?: string;
}

export interface EtcdMember {
  name: string;
  pid: number;
  clientUrl: string;
  peerUrl: string;
  clientPort: number;
  peerPort: number;
  host: string;
  dataDir: string;
  logFile: string;
  child: ChildProcess;
  // Settles when the process has exited.
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  // undefined while running; the exit code, or -1 when a signal ended it.
  exitCode(): number | undefined;
  logs(): string;
}

// Processes still running, killed by pid if the test process dies before its cleanup runs.
const live = new Map<number, ChildProcess>();
let exitHookInstalled = false;

// Daemons live in sbin on some systems, which a non-login PATH may lack.
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

// etcd reads every ETCD_* variable as a flag, so a stray one on the machine would change the test.
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCD_') && !k.startsWith('ETCDCTL_')) env[k] = v;
  return { ...env, ...extra };
}

export function startEtcdMember(options: EtcdMemberOptions): EtcdMember {
  const binary = options.binary ?? findBinary('etcd');
  if (!binary) throw new Error('etcd is not installed (Debian package etcd-server)');
  const host = options.host ?? '127.0.0.1';
  const clientUrl = `${options.clientScheme ?? 'http'}://${host}:${options.clientPort}`;
  const peerUrl = `${options.peerScheme ?? 'http'}://${host}:${options.peerPort}`;
  const logFile = options.logFile ?? `${options.dataDir}.log`;
  const args = [
    `--name=${options.name}`,
    `--data-dir=${options.dataDir}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    '--logger=zap',
    '--log-outputs=stderr',
    ...(options.args ?? []),
  ];
  // Log straight to a file so the member never blocks on a pipe nobody drains.
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(binary, args, { stdio: ['ignore', fd, fd], env: cleanEnv(options.env) });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${binary}`);
  live.set(pid, child);
  installExitHook();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(pid);
      resolve({ code, signal });
    });
  });
  return {
    name: options.name,
    pid,
    clientUrl,
    peerUrl,
    clientPort: options.clientPort,
    peerPort: options.peerPort,
    host,
    dataDir: options.dataDir,
    logFile,
    child,
    exited,
    exitCode: () => child.exitCode ?? (child.signalCode ? -1 : undefined),
    logs: () => readLog(logFile),
  };
}

// Polls <clientUrl>/health until it says {"health":"true"}; fails early with the log if the member exits.
export async function waitForHealth(
  member: EtcdMember,
  options: { timeoutMs?: number; tls?: TlsClientOptions } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let last = 'no answer yet';
  for (;;) {
    if (member.exitCode() !== undefined) {
      throw new Error(`etcd member ${member.name} exited (${member.exitCode()}) before becoming healthy:\n${tail(member.logs())}`);
    }
    try {
      const res = await httpGet(`${member.clientUrl}/health`, options.tls);
      last = `${res.status} ${res.body}`;
      if (res.status === 200 && (JSON.parse(res.body) as { health?: string }).health === 'true') return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`etcd member ${member.name} not healthy after timeout (last: ${last}):\n${tail(member.logs())}`);
    }
    await sleep(200);
  }
}

// SIGTERM by pid, SIGKILL after graceMs, then wait until the member's ports refuse connections.
export async function stopEtcdMember(member: EtcdMember, options: { graceMs?: number; timeoutMs?: number } = {}): Promise<void> {
  if (member.exitCode() === undefined) {
    try {
      process.kill(member.pid, 'SIGTERM');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
    const graceful = await waitForExit(member, options.graceMs ?? 10_000);
    if (!graceful && member.exitCode() === undefined) {
      try {
        process.kill(member.pid, 'SIGKILL');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
    await member.exited;
  }
  await waitForPortsClosed(member.host, [member.clientPort, member.peerPort], options.timeoutMs ?? 10_000);
}

// The member's exit status, or undefined if it is still running after timeoutMs.
export async function waitForExit(
  member: EtcdMember,
  timeoutMs: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
  try {
    return await Promise.race([member.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function waitForPortsClosed(host: string, ports: number[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const port of ports) {
    while (await isListening(host, port)) {
      if (Date.now() > deadline) throw new Error(`${host}:${port} still accepts connections`);
      await sleep(100);
    }
  }
}

export function isListening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

// Free loopback ports from a random spot in 21000-29999, clear of etcd's default 2379/2380.
export async function findFreePorts(count: number, host = '127.0.0.1', min = 21000, max = 29999): Promise<number[]> {
  const ports: number[] = [];
  let candidate = min + Math.floor(Math.random() * (max - min - count * 10));
  while (ports.length < count) {
    if (candidate > max) candidate = min;
    if (await canBind(host, candidate)) ports.push(candidate);
    candidate++;
  }
  return ports;
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

// Runs etcdctl with the v3 API against the given endpoints; extra args carry TLS flags when needed.
export async function etcdctl(endpoints: string[], args: string[], options: { binary?: string; timeoutMs?: number } = {}): Promise<string> {
  const binary = options.binary ?? findBinary('etcdctl');
  if (!binary) throw new Error('etcdctl is not installed (Debian package etcd-client)');
  const { stdout } = await execFileAsync(binary, [`--endpoints=${endpoints.join(',')}`, ...args], {
    env: cleanEnv({ ETCDCTL_API: '3' }),
    timeout: options.timeoutMs ?? 15_000,
  });
  return stdout;
}

function httpGet(url: string, tls?: TlsClientOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const done = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    };
    const req =
      u.protocol === 'https:' ? https.get(u, { ...tls, timeout: 2000 }, done) : http.get(u, { timeout: 2000 }, done);
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pid of live.keys()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function tail(text: string, lines = 40): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
