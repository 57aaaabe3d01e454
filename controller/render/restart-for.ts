import { createHash } from 'node:crypto';
import { parse } from 'yaml';
import { RESTART_FOR_ANNOTATION, withAnnotation } from '../../common/manifest-hash.js';
import type { Task } from '../../proto/gen/muster/agent/v1/tasks.js';

// Restarts the kubelet cannot see: a static pod reads certificates, keys and token files that
// muster manages, and the kubelet restarts a pod only when its manifest changes. So each pod's
// manifest carries a hash of the managed files its containers' flags name (--cert-file=...,
// --kubeconfig=...): a renewed certificate changes the manifest, the kubelet re-creates the pod,
// and a rollout rolls it one member at a time.

interface PodDoc {
  spec?: { containers?: { command?: unknown[]; args?: unknown[] }[] };
}

// Every managed path of the node's tasks and the bytes muster writes there.
function managedFiles(tasks: Task[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const t of tasks) {
    if (t.file) files.set(t.file.path, Buffer.from(t.file.content).toString('base64'));
    if (t.certificate) {
      const c = t.certificate;
      files.set(c.certPath, c.certPem);
      files.set(c.keyPath, c.keyPem);
      if (c.caPath) files.set(c.caPath, c.caPem);
    }
  }
  return files;
}

// The managed paths a manifest's flags name, sorted; undefined when it is not a Pod.
export function referencedFiles(manifest: string, managed: ReadonlyMap<string, string>): string[] | undefined {
  let pod: PodDoc;
  try {
    pod = parse(manifest) as PodDoc;
  } catch {
    return undefined;
  }
  const args = (pod?.spec?.containers ?? []).flatMap((c) => [...(c.command ?? []), ...(c.args ?? [])]).filter((a): a is string => typeof a === 'string');
  const paths = args.flatMap((a) => (a.startsWith('--') && a.includes('=') ? a.slice(a.indexOf('=') + 1).split(',') : [a])).filter((p) => managed.has(p));
  return [...new Set(paths)].sort();
}

// sha256 over each referenced path and its content, in path order.
export function restartHash(paths: string[], managed: ReadonlyMap<string, string>): string {
  const h = createHash('sha256');
  for (const p of paths) h.update(p).update('\0').update(managed.get(p)!).update('\0');
  return h.digest('hex');
}

// Whether a manifest's text can name a managed path: each one it names is in the text as it is,
// unless written through an escape or folded at a space. Parsing the YAML is most of a plan's cost
// when every node runs pods, and most name no managed file.
function mayName(manifest: string, managed: ReadonlyMap<string, string>): boolean {
  if (manifest.includes('\\')) return true;
  for (const p of managed.keys()) if (manifest.includes(p) || /\s/.test(p)) return true;
  return false;
}

// The node's tasks with each static pod's manifest annotated; pods naming no managed file stay as they are.
export function annotateRestarts(tasks: Task[]): Task[] {
  if (!tasks.some((t) => t.staticPod)) return tasks;
  const managed = managedFiles(tasks);
  return tasks.map((t) => {
    if (!t.staticPod || !mayName(t.staticPod.manifest, managed)) return t;
    const paths = referencedFiles(t.staticPod.manifest, managed);
    if (!paths?.length) return t;
    return { ...t, staticPod: { ...t.staticPod, manifest: withAnnotation(t.staticPod.manifest, RESTART_FOR_ANNOTATION, restartHash(paths, managed)) } };
  });
}
