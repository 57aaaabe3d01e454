import path from 'node:path';
import type { Task } from '../../proto/gen/muster/agent/v1/tasks.js';
import { SpecError } from '../../common/yaml-load.js';
import type { Inventory, InventoryNode } from '../inputs/inventory.js';
import { toMountSpec } from '../inputs/storage.js';
import type { TaskDef, TaskFile } from '../inputs/task-file.js';
import type { NamedRequest } from '../pki/cluster.js';
import type { DraftTask, NodeDraft, Rendered } from './draft.js';
import { nodeVars, selects } from './node.js';
import { substitute, substituteDeep } from './substitute.js';

// A task file's drafts, one per node. A certificate task names its certificate
// (<node>/<task id>, from the cluster CA); the PKI step issues or loads it.
export function renderTaskFile(inv: Inventory, tf: TaskFile): Rendered {
  const drafts: NodeDraft[] = [];
  const certificates: NamedRequest[] = [];
  const problems: { at: { line: number; column: number }; field: string; message: string }[] = [];
  for (const node of inv.nodes) {
    const vars = { ...tf.vars, ...nodeVars(node, inv.cluster) };
    const tasks: DraftTask[] = [];
    for (const [i, def] of tf.tasks.entries()) {
      if (!selects(def, node)) continue;
      try {
        tasks.push(renderTask(def, vars, tf, node, certificates));
      } catch (err) {
        problems.push({ at: tf.positions[i], field: `tasks[${i}] (${def.id})`, message: (err as Error).message });
      }
    }
    const used = new Set(tf.tasks.filter((d) => selects(d, node)).flatMap((d) => d.notify));
    const probes = tf.probes.map((p) => ({
      name: p.name,
      intervalMs: p.intervalSeconds * 1000,
      timeoutMs: p.timeoutSeconds * 1000,
      http: { url: substitute(p.http.url, vars, `probe ${p.name}`), insecure: p.http.insecure, caPath: '', certPath: '', keyPath: '' },
    }));
    drafts.push({ node: node.name, tasks, handlers: tf.handlers.filter((h) => used.has(h.id)), probes, driftPolicy: tf.driftPolicy, ...(tf.prune ? {} : { keepRemoved: true }) });
  }
  if (problems.length) {
    // One problem per task and message, not one per node.
    const unique = [...new Map(problems.map((p) => [p.field + p.message, p])).values()];
    throw new SpecError(unique.map((p) => ({ file: tf.file, ...p.at, field: p.field, message: p.message })));
  }
  return { drafts, certificates, serviceAccountKey: false };
}

function renderTask(def: TaskDef, vars: Record<string, string>, tf: TaskFile, node: InventoryNode, certificates: NamedRequest[]): DraftTask {
  const where = '';
  if (def.file) {
    const f = def.file;
    const raw = f.content ?? tf.includes.get(f.contentFile!)!;
    return {
      id: def.id,
      notify: def.notify,
      file: {
        path: substitute(f.path, vars, where),
        content: Buffer.from(substitute(raw, vars, f.contentFile ? path.resolve(tf.dir, f.contentFile) : where)),
        mode: f.mode ?? 0,
        owner: f.owner ?? '',
        group: f.group ?? '',
        secret: f.secret,
      },
    };
  }
  if (def.staticPod) {
    const p = def.staticPod;
    const raw = p.manifest ?? tf.includes.get(p.manifestFile!)!;
    return {
      id: def.id,
      notify: def.notify,
      staticPod: {
        name: substitute(p.name, vars, where),
        manifest: substitute(raw, vars, p.manifestFile ? path.resolve(tf.dir, p.manifestFile) : where),
        manifestsDir: p.manifestsDir ?? '',
      },
    };
  }
  if (def.mount) return { id: def.id, notify: def.notify, mount: toMountSpec(substituteDeep(def.mount, vars, where)) };
  const c = def.certificate!;
  const issue = substituteDeep(c.issue, vars, where);
  const name = `${node.name}/${def.id}`;
  certificates.push({
    name,
    ca: 'ca',
    request: { commonName: issue.commonName, organizations: issue.organizations, dnsNames: issue.dnsNames, ipAddresses: issue.ipAddresses, usages: issue.usages, validityDays: issue.validityDays },
  });
  const certPath = substitute(c.certPath, vars, where);
  const keyPath = substitute(c.keyPath, vars, where);
  const caPath = c.caPath ? substitute(c.caPath, vars, where) : '';
  return (m): Task => ({
    id: def.id,
    notify: def.notify,
    certificate: {
      certPath,
      certPem: m.cert(name).certPem,
      keyPath,
      keyPem: m.cert(name).keyPem,
      caPath,
      caPem: caPath ? m.caPem('ca') : '',
      owner: c.owner ?? '',
      group: c.group ?? '',
    },
  });
}
