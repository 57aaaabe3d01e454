// The ten-node HA example rendered by the controller and written to disk by the real agent
// engine, one root folder per node, so system tests can hand the files to the real programs.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { Engine } from '../../../agent/engine/engine.js';
import { Host } from '../../../agent/host/host.js';
import { ClusterPki } from '../../../controller/pki/cluster.js';
import { plansFrom } from '../../../controller/app/plan-set.js';
import { loadClusterSpec, type ClusterSpec } from '../../../controller/inputs/cluster.js';
import { loadInventory, type Inventory } from '../../../controller/inputs/inventory.js';
import { CLUSTER_NODE_TREES } from '../../helpers/host.js';
import { ApplyMode, TaskStatus, type ApplySummary, type Plan, type TaskResult } from '../../../proto/gen/muster/agent/v1/agent.js';

const execFileAsync = promisify(execFile);

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const EXAMPLE_DIR = path.join(REPO, 'examples/ha-cluster/local');
export const EXAMPLE_INVENTORY = path.join(EXAMPLE_DIR, 'inventory.yaml');
export const EXAMPLE_CLUSTER = path.join(EXAMPLE_DIR, 'cluster.yaml');

export interface AppliedCluster {
  // node name → the folder that plays that node's "/".
  roots: Map<string, string>;
  plans: Plan[];
  // The controller's side: its state folder (PKI with both CAs) and the loaded inputs.
  state: { dir: string; pki: ClusterPki; inventory: Inventory; spec: ClusterSpec };
  summaries: Map<string, ApplySummary>;
}

export interface RenderOptions {
  // A cluster spec to use instead of the example's (e.g. a modified copy in a temp folder).
  clusterFile?: string;
  // An inventory to use instead of the example's (other addresses, other roles).
  inventoryFile?: string;
}

// Renders every node's plan from the example and applies each with the agent's own engine into
// <tmpDir>/nodes/<name>; throws with the failing tasks if any plan does not fully converge.
export async function renderAndApplyExample(tmpDir: string, options: RenderOptions = {}): Promise<AppliedCluster> {
  const inventory = await loadInventory(options.inventoryFile ?? EXAMPLE_INVENTORY);
  const spec = await loadClusterSpec(options.clusterFile ?? EXAMPLE_CLUSTER, inventory);
  const stateDir = path.join(tmpDir, 'controller');
  const pki = new ClusterPki(stateDir, inventory.cluster);
  const { plans } = await plansFrom({ inv: inventory, cluster: spec }, pki);
  const roots = new Map<string, string>();
  const summaries = new Map<string, ApplySummary>();
  const log = pino({ level: 'silent' });
  for (const plan of plans) {
    const root = path.join(tmpDir, 'nodes', plan.node);
    await fs.mkdir(root, { recursive: true });
    const host = new Host({ root, allowedTrees: CLUSTER_NODE_TREES, stateDir: '/var/lib/musterd' });
    const engine = new Engine(host, log);
    await engine.init();
    const results: TaskResult[] = [];
    const summary = await engine.run(plan, { mode: ApplyMode.APPLY_MODE_APPLY, onResult: (r) => results.push(r) });
    const failed = results.filter((r) => r.status === TaskStatus.TASK_STATUS_FAILED || r.status === TaskStatus.TASK_STATUS_SKIPPED);
    if (!summary.converged || failed.length) {
      throw new Error(`plan for ${plan.node} did not converge:\n${failed.map((r) => `  ${r.id}: ${TaskStatus[r.status]} ${r.errorCode} ${r.errorMessage}`).join('\n')}`);
    }
    roots.set(plan.node, root);
    summaries.set(plan.node, summary);
  }
  return { roots, plans, state: { dir: stateDir, pki, inventory, spec }, summaries };
}

// Writes a copy of the example cluster spec with `edit` applied, for variants such as nginx.
export async function writeExampleVariant(dir: string, edit: (spec: Record<string, unknown>) => void): Promise<string> {
  const spec = parse(await fs.readFile(EXAMPLE_CLUSTER, 'utf8')) as Record<string, unknown>;
  edit(spec);
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, 'cluster.yaml');
  await fs.writeFile(file, stringify(spec));
  return file;
}

export function planOf(cluster: Pick<AppliedCluster, 'plans'>, node: string): Plan {
  const plan = cluster.plans.find((p) => p.node === node);
  if (!plan) throw new Error(`no plan for node ${node}`);
  return plan;
}

// Where a host path of a node lives on this machine.
export function onNode(cluster: Pick<AppliedCluster, 'roots'>, node: string, hostPath: string): string {
  const root = cluster.roots.get(node);
  if (!root) throw new Error(`no root for node ${node}`);
  return path.join(root, hostPath);
}

// One finder for the programs the system tests run (daemons live in sbin).
export { findBinary as findProgram } from './etcd.js';

export interface ProgramResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  output: string;
}

// Runs a program without a shell and never throws on a non-zero exit: tests assert on the status.
export async function runProgram(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ProgramResult> {
  try {
    const { stdout, stderr } = await execFileAsync(cmd, args, { env: options.env ?? process.env, timeout: options.timeoutMs ?? 30_000, maxBuffer: 16 << 20 });
    return { status: 0, signal: null, stdout, stderr, output: stdout + stderr };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { code?: number | string; signal?: NodeJS.Signals | null; stdout?: string; stderr?: string };
    if (typeof e.code === 'string') throw err;
    const stdout = e.stdout ?? '';
    const stderr = e.stderr ?? '';
    return { status: typeof e.code === 'number' ? e.code : null, signal: e.signal ?? null, stdout, stderr, output: stdout + stderr };
  }
}
