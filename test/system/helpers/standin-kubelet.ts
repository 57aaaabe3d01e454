// The stand-in kubelet (no kubelet exists on these machines): for one node's root it reads the
// etcd static pod manifest and does what the kubelet does with it, minus containers: make the
// hostPath volumes, run the container's command with mounted paths resolved under the node's
// root. Like the kubelet it follows the manifest: when the file changes it stops the running
// member and starts one from the new manifest, restarts a member that exits (with back-off),
// and publishes its running pods the way `crictl pods -o json` shows them (annotations
// included) in <root>/run/containerd/standin-pods.json, for the crictl stand-in.
// Only what three members on one machine force is changed: no 127.0.0.1 client listener (one
// process could bind it) and the metrics listener on the member's own address.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { cleanEnv, stopEtcdMember, type EtcdMember } from './etcd.js';

interface PodVolume {
  name: string;
  hostPath?: { path: string; type?: string };
}
interface PodContainer {
  name: string;
  command?: string[];
  volumeMounts?: { name: string; mountPath: string }[];
}
export interface StaticPod {
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec: { hostNetwork?: boolean; containers: PodContainer[]; volumes?: PodVolume[] };
}

// A running member plus what the stand-in knows about it.
export interface StandInMember extends EtcdMember {
  metricsUrl: string;
  command: string[];
  manifestHash: string; // md5 of the manifest bytes it was started from (the kubelet's config.hash)
}

// Container path → host path under the node's root, from the pod's own volumes and mounts.
function mountMap(pod: StaticPod, container: PodContainer, root: string): { mountPath: string; hostPath: string; type: string }[] {
  return (container.volumeMounts ?? []).map((m) => {
    const volume = pod.spec.volumes?.find((v) => v.name === m.name);
    assert.ok(volume?.hostPath, `volume ${m.name} is not a hostPath volume`);
    return { mountPath: m.mountPath, hostPath: path.join(root, volume.hostPath.path), type: volume.hostPath.type ?? '' };
  });
}

function rewriteFlag(flag: string, mounts: ReturnType<typeof mountMap>, ip: string): string {
  const eq = flag.indexOf('=');
  if (!flag.startsWith('--') || eq < 0) return flag;
  const name = flag.slice(2, eq);
  const value = flag.slice(eq + 1);
  if (name === 'listen-client-urls') {
    const kept = value.split(',').filter((u) => new URL(u).hostname !== '127.0.0.1');
    assert.ok(kept.length, `--listen-client-urls has nothing but 127.0.0.1: ${value}`);
    return `--${name}=${kept.join(',')}`;
  }
  if (name === 'listen-metrics-urls') {
    return `--${name}=${value
      .split(',')
      .map((u) => {
        const url = new URL(u);
        if (url.hostname === '127.0.0.1') url.hostname = ip;
        return url.origin;
      })
      .join(',')}`;
  }
  // A path inside a mounted folder is read by the container at the host path that backs it.
  const mount = mounts.find((m) => value === m.mountPath || value.startsWith(m.mountPath + '/'));
  if (mount) return `--${name}=${mount.hostPath}${value.slice(mount.mountPath.length)}`;
  return flag;
}

export function flagValue(command: string[], name: string): string {
  const flag = command.find((f) => f.startsWith(`--${name}=`));
  assert.ok(flag, `the etcd command has no --${name}`);
  return flag.slice(name.length + 3);
}

export function manifestPath(root: string): string {
  return path.join(root, 'etc/kubernetes/manifests/etcd.yaml');
}

/** Starts the etcd member the node's manifest describes, once. */
export async function startEtcdPod(root: string, ip: string, etcdBinary: string, logFile: string): Promise<StandInMember> {
  const bytes = await fs.readFile(manifestPath(root));
  const pod = parse(bytes.toString('utf8')) as StaticPod;
  assert.equal(pod.kind, 'Pod');
  assert.equal(pod.spec.hostNetwork, true, 'etcd must use the host network: its peers dial the node address');
  const container = pod.spec.containers.find((c) => c.name === 'etcd');
  assert.ok(container?.command?.length, 'the etcd static pod has no etcd container with a command');
  assert.equal(container.command[0], 'etcd');
  const mounts = mountMap(pod, container, root);
  for (const m of mounts) {
    // What the kubelet does for each hostPath type before it starts the container.
    if (m.type === 'DirectoryOrCreate') await fs.mkdir(m.hostPath, { recursive: true, mode: 0o755 });
    else if (m.type === 'Directory') assert.ok((await fs.stat(m.hostPath)).isDirectory(), `${m.hostPath} must exist`);
  }
  const args = container.command.slice(1).map((f) => rewriteFlag(f, mounts, ip));
  const fd = openSync(logFile, 'a');
  let child;
  try {
    child = spawn(etcdBinary, args, { stdio: ['ignore', fd, fd], env: cleanEnv() });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  assert.ok(pid, `could not start ${etcdBinary}`);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const clientUrl = flagValue(args, 'advertise-client-urls');
  const peerUrl = flagValue(args, 'initial-advertise-peer-urls');
  return {
    name: flagValue(args, 'name'),
    pid,
    clientUrl,
    peerUrl,
    clientPort: Number(new URL(clientUrl).port),
    peerPort: Number(new URL(peerUrl).port),
    host: ip,
    dataDir: flagValue(args, 'data-dir'),
    logFile,
    child,
    exited,
    exitCode: () => child.exitCode ?? (child.signalCode ? -1 : undefined),
    logs: () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
    metricsUrl: flagValue(args, 'listen-metrics-urls'),
    command: [etcdBinary, ...args],
    manifestHash: createHash('md5').update(bytes).digest('hex'),
  };
}

export interface PodEvent {
  atMs: number;
  what: 'started' | 'stopped' | 'exited';
  manifestHash: string;
  pid: number;
}

/**
 * Follows the node's etcd manifest like a kubelet: a changed manifest restarts the member
 * from the new file; a member that exits is started again after a back-off (1 s, doubling to 8 s).
 */
export class StandInKubelet {
  current?: StandInMember;
  readonly events: PodEvent[] = [];
  private timer?: NodeJS.Timeout;
  private busy = false;
  private stopped = false;
  private lastBytes = '';
  private backoffMs = 1000;
  private nextStartMs = 0;

  constructor(
    readonly root: string,
    readonly ip: string,
    private readonly etcdBinary: string,
    private readonly logFile: string,
    private readonly pollMs = 100,
  ) {}

  async start(): Promise<StandInMember> {
    await this.sync();
    assert.ok(this.current, `no etcd manifest at ${manifestPath(this.root)}`);
    this.timer = setInterval(() => void this.sync(), this.pollMs);
    return this.current;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    while (this.busy) await new Promise((r) => setTimeout(r, 20));
    if (this.current && this.current.exitCode() === undefined) {
      await stopEtcdMember(this.current);
      this.record('stopped', this.current);
    }
    await this.publish();
  }

  private record(what: PodEvent['what'], m: StandInMember): void {
    this.events.push({ atMs: Date.now(), what, manifestHash: m.manifestHash, pid: m.pid });
  }

  private async sync(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      let bytes: string;
      try {
        bytes = await fs.readFile(manifestPath(this.root), 'utf8');
      } catch {
        bytes = ''; // a removed manifest stops the pod, as the kubelet does
      }
      const running = this.current && this.current.exitCode() === undefined;
      if (this.current && !running && this.events.at(-1)?.pid === this.current.pid && this.events.at(-1)?.what === 'started') {
        this.record('exited', this.current);
        this.nextStartMs = Date.now() + this.backoffMs;
        this.backoffMs = Math.min(this.backoffMs * 2, 8000);
      }
      if (bytes !== this.lastBytes) {
        if (running) {
          await stopEtcdMember(this.current!);
          this.record('stopped', this.current!);
        }
        this.lastBytes = bytes;
        this.backoffMs = 1000;
        this.nextStartMs = 0;
        this.current = undefined;
      }
      const up = this.current && this.current.exitCode() === undefined;
      if (!up && bytes && Date.now() >= this.nextStartMs) {
        this.current = await startEtcdPod(this.root, this.ip, this.etcdBinary, this.logFile);
        this.record('started', this.current);
      }
      await this.publish();
    } finally {
      this.busy = false;
    }
  }

  /** The running pods as `crictl pods -o json` lists them. */
  private async publish(): Promise<void> {
    const m = this.current;
    const items = [];
    if (m && this.lastBytes) {
      const pod = parse(this.lastBytes) as StaticPod;
      items.push({
        id: createHash('sha256').update(`${m.pid}`).digest('hex'),
        metadata: { name: `${pod.metadata.name}-${path.basename(this.root)}`, uid: m.manifestHash, namespace: pod.metadata.namespace ?? 'kube-system', attempt: this.events.filter((e) => e.what === 'started').length - 1 },
        state: m.exitCode() === undefined ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY',
        createdAt: String(BigInt([...this.events].reverse().find((e) => e.pid === m.pid)?.atMs ?? 0) * 1_000_000n),
        labels: { component: pod.metadata.name, 'io.kubernetes.pod.namespace': pod.metadata.namespace ?? 'kube-system' },
        annotations: { ...(pod.metadata.annotations ?? {}), 'kubernetes.io/config.hash': m.manifestHash, 'kubernetes.io/config.source': 'file' },
        runtimeHandler: '',
      });
    }
    const file = path.join(this.root, 'run/containerd/standin-pods.json');
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(`${file}.tmp`, JSON.stringify({ items }, null, 2));
    await fs.rename(`${file}.tmp`, file);
  }
}
