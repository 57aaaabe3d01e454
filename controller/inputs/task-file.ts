import path from 'node:path';
import { z } from 'zod';
import { SpecError, loadYaml, type SpecProblem } from '../../common/yaml-load.js';

// As many tasks as an agent takes in one plan (agent/engine: MAX_PLAN_TASKS).
export const MAX_TASK_FILE_TASKS = 10_000;
import { DriftPolicy } from '../../proto/gen/muster/agent/v1/agent.js';
import { ROLES, readSpec } from './inventory.js';
import { mountSchema } from './storage.js';

// Modes are quoted octal strings: YAML 1.2 reads a bare 0644 as the decimal 644.
const mode = z
  .string({ error: 'write the mode as a quoted octal string, such as "0644"' })
  .regex(/^0?[0-7]{3,4}$/, 'must be an octal mode such as "0644"')
  .transform((s) => parseInt(s, 8));

export const selector = z
  .object({
    roles: z.array(z.enum(ROLES)).optional(),
    nodes: z.array(z.string()).optional(),
    labels: z.record(z.string(), z.string()).optional(),
  })
  .strict();

const fileSpec = z
  .object({
    path: z.string().startsWith('/', 'must be an absolute path'),
    content: z.string().optional(),
    // contentFile is read relative to the task file.
    contentFile: z.string().optional(),
    mode: mode.optional(),
    owner: z.string().optional(),
    group: z.string().optional(),
    secret: z.boolean().default(false),
  })
  .strict()
  .refine((f) => (f.content === undefined) !== (f.contentFile === undefined), 'give exactly one of content and contentFile');

const staticPodSpec = z
  .object({
    name: z.string().min(1),
    manifest: z.string().optional(),
    manifestFile: z.string().optional(),
    manifestsDir: z.string().startsWith('/').optional(),
  })
  .strict()
  .refine((f) => (f.manifest === undefined) !== (f.manifestFile === undefined), 'give exactly one of manifest and manifestFile');

const issueSpec = z
  .object({
    commonName: z.string().min(1),
    organizations: z.array(z.string()).default([]),
    dnsNames: z.array(z.string()).default([]),
    ipAddresses: z.array(z.string()).default([]),
    usages: z.array(z.enum(['server', 'client'])).min(1).default(['server']),
    validityDays: z.number().int().min(1).max(3650).optional(),
  })
  .strict();

const certificateSpec = z
  .object({
    certPath: z.string().startsWith('/'),
    keyPath: z.string().startsWith('/'),
    caPath: z.string().startsWith('/').optional(),
    owner: z.string().optional(),
    group: z.string().optional(),
    // issue: the controller signs it with the cluster CA and keeps it in its state folder.
    issue: issueSpec,
  })
  .strict();

const taskSpec = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be lower-case letters, digits, ".", "_" or "-"'),
    on: selector.optional(),
    // notify: handlers to run once at the end of the plan when this task changed the host.
    notify: z.array(z.string()).default([]),
    file: fileSpec.optional(),
    staticPod: staticPodSpec.optional(),
    certificate: certificateSpec.optional(),
    mount: mountSchema.optional(),
  })
  .strict()
  .refine((t) => [t.file, t.staticPod, t.certificate, t.mount].filter(Boolean).length === 1, 'a task has exactly one of file, staticPod, certificate, mount');

const handlerSpec = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be lower-case letters, digits, ".", "_" or "-"'),
    command: z.array(z.string()).min(1, 'a handler runs a command: [program, args...]'),
    timeoutSeconds: z.number().int().min(1).max(3600).default(60),
  })
  .strict();

// An HTTP health check the agents run and report in their status: rollout gates read it
// (a worker's gate needs a probe named kubelet).
const probeSpec = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case letters, digits or "-"'),
    http: z.object({ url: z.string().min(1), insecure: z.boolean().default(false) }).strict(),
    intervalSeconds: z.number().int().min(1).max(3600).default(10),
    timeoutSeconds: z.number().int().min(1).max(60).default(2),
  })
  .strict();

export const taskFileSchema = z
  .object({
    vars: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({}),
    handlers: z.array(handlerSpec).default([]),
    // drift: what agents do when a managed file changes behind their back.
    drift: z.enum(['enforce', 'report']).default('enforce'),
    probes: z.array(probeSpec).default([]),
    // prune: what leaves a node's plan is removed from it (false keeps it on the host).
    prune: z.boolean().default(true),
    tasks: z.array(taskSpec).min(1, 'the task file lists no tasks'),
  })
  .strict();

export type TaskDef = z.output<typeof taskSpec>;

export interface TaskFile {
  file: string;
  dir: string;
  vars: Record<string, string>;
  tasks: TaskDef[];
  handlers: { id: string; command: string[]; timeoutMs: number }[];
  driftPolicy: DriftPolicy;
  probes: z.output<typeof probeSpec>[];
  prune: boolean;
  // where each task starts, for errors found later (substitution)
  positions: { line: number; column: number }[];
  // contents of contentFile/manifestFile references, read once at load
  includes: Map<string, string>;
}

export async function loadTaskFile(file: string): Promise<TaskFile> {
  const { value, locate } = loadYaml(file, await readSpec(file), taskFileSchema, { maxItems: { tasks: MAX_TASK_FILE_TASKS } });
  const dir = path.dirname(file);
  const problems: SpecProblem[] = [];
  const ids = new Set<string>();
  const includes = new Map<string, string>();
  for (const [i, t] of value.tasks.entries()) {
    if (ids.has(t.id)) problems.push({ file, ...locate(['tasks', i, 'id']), field: `tasks[${i}].id`, message: `task id ${t.id} is used twice` });
    ids.add(t.id);
    const ref = t.file?.contentFile ?? t.staticPod?.manifestFile;
    if (ref) {
      const field = t.file ? ['tasks', i, 'file', 'contentFile'] : ['tasks', i, 'staticPod', 'manifestFile'];
      try {
        includes.set(ref, await readSpec(path.resolve(dir, ref)));
      } catch {
        problems.push({ file, ...locate(field), field: field.join('.').replace(/\.(\d+)\./, '[$1].'), message: `${path.resolve(dir, ref)} cannot be read` });
      }
    }
  }
  const handlerIds = new Set(value.handlers.map((h) => h.id));
  for (const [i, t] of value.tasks.entries()) {
    for (const [j, h] of t.notify.entries()) {
      if (!handlerIds.has(h)) problems.push({ file, ...locate(['tasks', i, 'notify', j]), field: `tasks[${i}].notify[${j}]`, message: `no handler ${h} (known: ${[...handlerIds].join(', ') || 'none'})` });
    }
  }
  if (problems.length) throw new SpecError(problems);
  return {
    file,
    dir,
    vars: value.vars,
    tasks: value.tasks,
    handlers: value.handlers.map((h) => ({ id: h.id, command: h.command, timeoutMs: h.timeoutSeconds * 1000 })),
    driftPolicy: value.drift === 'report' ? DriftPolicy.DRIFT_POLICY_REPORT : DriftPolicy.DRIFT_POLICY_ENFORCE,
    probes: value.probes,
    prune: value.prune,
    positions: value.tasks.map((_, i) => locate(['tasks', i])), includes };
}
