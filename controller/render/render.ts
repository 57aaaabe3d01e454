import { createHash } from 'node:crypto';
import path from 'node:path';
import { Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import type { Task } from '../../proto/gen/muster/agent/v1/tasks.js';
import { SpecError } from '../../common/yaml-load.js';
import type { ClusterPki } from '../pki/cluster.js';
import type { Inventory, InventoryNode } from '../inputs/inventory.js';
import type { TaskDef, TaskFile } from '../inputs/task-file.js';
import { substitute, substituteDeep } from './substitute.js';
import { toMountSpec } from '../inputs/storage.js';

// The variables every task sees for its node, besides the task file's own vars.
export function nodeVars(inv: Inventory, node: InventoryNode): Record<string, string> {
  return {
    NODE_NAME: node.name,
    NODE_IP: node.address,
    NODE_HOSTNAME: node.hostname,
    CLUSTER_NAME: inv.cluster,
  };
}

export function selects(def: Pick<TaskDef, 'on'>, node: InventoryNode): boolean {
  const on = def.on;
  if (!on) return true;
  if (on.nodes && !on.nodes.includes(node.name)) return false;
  if (on.roles && !on.roles.some((r) => node.roles.includes(r))) return false;
  if (on.labels && !Object.entries(on.labels).every(([k, v]) => node.labels[k] === v)) return false;
  return true;
}

// The revision is a hash of the plan's content: same input, same bytes, same revision.
export function revisionOf(plan: Plan): string {
  const bytes = Plan.encode({ ...plan, revision: '' }).finish();
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

// Turns the inventory and the task file into one plan per node. Certificates are issued (or
// reused) through the cluster PKI, so rendering twice gives the same plans.
export async function renderPlans(inv: Inventory, tf: TaskFile, pki: ClusterPki): Promise<Plan[]> {
  const plans: Plan[] = [];
  const problems: { at: { line: number; column: number }; field: string; message: string }[] = [];
  const caPem = (await pki.ca()).certPem;
  for (const node of inv.nodes) {
    const vars = { ...tf.vars, ...nodeVars(inv, node) };
    const tasks: Task[] = [];
    for (const [i, def] of tf.tasks.entries()) {
      if (!selects(def, node)) continue;
      try {
        tasks.push(await renderTask(def, vars, tf, node, pki, caPem));
      } catch (err) {
        problems.push({ at: tf.positions[i], field: `tasks[${i}] (${def.id})`, message: (err as Error).message });
      }
    }
    const used = new Set(tasks.flatMap((t) => t.notify));
    const plan: Plan = { node: node.name, revision: '', tasks, handlers: tf.handlers.filter((h) => used.has(h.id)), probes: [], driftPolicy: tf.driftPolicy };
    plan.revision = revisionOf(plan);
    plans.push(plan);
  }
  if (problems.length) {
    // One problem per task and message, not one per node.
    const unique = [...new Map(problems.map((p) => [p.field + p.message, p])).values()];
    throw new SpecError(unique.map((p) => ({ file: tf.file, ...p.at, field: p.field, message: p.message })));
  }
  return plans;
}

async function renderTask(def: TaskDef, vars: Record<string, string>, tf: TaskFile, node: InventoryNode, pki: ClusterPki, caPem: string): Promise<Task> {
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
  const pair = await pki.issue(`${node.name}/${def.id}`, {
    commonName: issue.commonName,
    organizations: issue.organizations,
    dnsNames: issue.dnsNames,
    ipAddresses: issue.ipAddresses,
    usages: issue.usages,
    validityDays: issue.validityDays,
  });
  return {
    id: def.id,
    notify: def.notify,
    certificate: {
      certPath: substitute(c.certPath, vars, where),
      certPem: pair.certPem,
      keyPath: substitute(c.keyPath, vars, where),
      keyPem: pair.keyPem,
      caPath: c.caPath ? substitute(c.caPath, vars, where) : '',
      caPem: c.caPath ? caPem : '',
      owner: c.owner ?? '',
      group: c.group ?? '',
    },
  };
}
