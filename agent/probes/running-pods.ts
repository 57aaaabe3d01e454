import path from 'node:path';
import { parse } from 'yaml';
import { manifestHash, MANIFEST_HASH_ANNOTATION } from '../../common/manifest-hash.js';
import { run } from '../host/exec.js';

// Which manifest each running static pod was started from, as the container runtime shows it:
// the pod sandbox carries the pod's annotations, the agent's manifest hash among them.

export const DEFAULT_RUNTIME_SOCKET = '/run/containerd/containerd.sock';
export const CRICTL_MISSING = 'crictl not installed (package cri-tools)';

export interface RuntimeOptions {
  // The crictl program (a name on PATH or a path); "crictl" by default.
  crictl?: string;
  // The CRI socket as a host path, mapped under the agent's root; containerd's by default.
  runtimeSocket?: string;
}

export interface Sandbox {
  name: string;
  namespace: string;
  ready: boolean;
  createdAt: bigint;
  annotations: Record<string, string>;
}

export interface PlannedPod {
  name: string;
  namespace: string;
  manifestHash: string;
}

export function plannedPod(name: string, manifest: string): PlannedPod {
  let namespace = 'default';
  try {
    const doc = parse(manifest) as { metadata?: { namespace?: unknown } } | null;
    if (typeof doc?.metadata?.namespace === 'string' && doc.metadata.namespace) namespace = doc.metadata.namespace;
  } catch {
    // an invalid manifest is the task's problem; its hash still says it is not running
  }
  return { name, namespace, manifestHash: manifestHash(manifest) };
}

export function crictlArgs(root: string, socket: string, namespace: string): string[] {
  return ['--runtime-endpoint', `unix://${path.join(root, socket)}`, 'pods', '--namespace', namespace, '-o', 'json'];
}

// `crictl pods -o json`: {"items": [{metadata: {name, namespace}, state, createdAt, annotations}]}.
export function parseSandboxes(json: string): Sandbox[] {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    throw new Error(`crictl pods -o json: not JSON: ${(err as Error).message}`);
  }
  const items = (doc as { items?: unknown } | null)?.items ?? [];
  if (!Array.isArray(items)) throw new Error('crictl pods -o json: "items" is not a list');
  return items.map((it: { metadata?: { name?: unknown; namespace?: unknown }; state?: unknown; createdAt?: unknown; annotations?: unknown }) => ({
    name: String(it.metadata?.name ?? ''),
    namespace: String(it.metadata?.namespace ?? ''),
    ready: it.state === 'SANDBOX_READY',
    createdAt: /^\d+$/.test(String(it.createdAt ?? '')) ? BigInt(String(it.createdAt)) : 0n,
    annotations: it.annotations && typeof it.annotations === 'object' ? Object.fromEntries(Object.entries(it.annotations).map(([k, v]) => [k, String(v)])) : {},
  }));
}

// The kubelet names a static pod "<name>-<node name>" and marks it config.source "file"; the
// node name is the kubelet's, so the pod is matched by prefix, a longer planned name winning.
export function sandboxOf(pod: PlannedPod, all: PlannedPod[], sandboxes: Sandbox[]): Sandbox | undefined {
  const longer = all.filter((p) => p.name.startsWith(`${pod.name}-`));
  const mine = sandboxes.filter(
    (s) => s.ready && s.namespace === pod.namespace && s.annotations['kubernetes.io/config.source'] === 'file' && s.name.startsWith(`${pod.name}-`) && !longer.some((p) => s.name.startsWith(`${p.name}-`)),
  );
  return mine.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))[0];
}

export interface RunningView {
  // By pod: the manifest hash the running sandbox carries, '' when none runs or it has none.
  running: Map<string, string>;
  // Why the runtime could not be asked (crictl missing or failing), else undefined.
  error?: string;
}

export async function runningPods(pods: PlannedPod[], root: string, o: RuntimeOptions = {}): Promise<RunningView> {
  const running = new Map(pods.map((p) => [p.name, '']));
  const sandboxes: Sandbox[] = [];
  for (const ns of [...new Set(pods.map((p) => p.namespace))].sort()) {
    try {
      const out = await run(o.crictl || 'crictl', crictlArgs(root, o.runtimeSocket || DEFAULT_RUNTIME_SOCKET, ns), { timeoutMs: 10_000 });
      sandboxes.push(...parseSandboxes(out.stdout));
    } catch (err) {
      const missing = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
      return { running, error: missing ? CRICTL_MISSING : (err as Error).message.split('\n')[0].slice(0, 300) };
    }
  }
  for (const p of pods) running.set(p.name, sandboxOf(p, pods, sandboxes)?.annotations[MANIFEST_HASH_ANNOTATION] ?? '');
  return { running };
}

// The pods whose running sandbox is not from the planned manifest, as a person reads it.
export function notRestarted(pods: PlannedPod[], running: Map<string, string>): string[] {
  return pods
    .filter((p) => running.get(p.name) !== p.manifestHash)
    .map((p) => (running.get(p.name) ? `${p.name} runs an older manifest (${running.get(p.name)!.slice(0, 12)}), planned ${p.manifestHash.slice(0, 12)}` : `${p.name} has no running pod from a muster manifest`));
}
