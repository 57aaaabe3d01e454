import path from 'node:path';
import { ControllerError, controllerErrors } from '../errors.js';
import { ApplyMode, NodeStatus, TaskStatus, type Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import type { ApplyOutcome } from '../fleet/client.js';
import { Fleet, mapLimit } from '../fleet/fleet.js';
import { FleetMonitor } from '../fleet/monitor.js';
import { ClusterPki } from '../pki/cluster.js';
import { initFleet, readFleetCredentials, fleetStore } from '../pki/fleet.js';
import { renderClusterPlans } from '../render/cluster/plan.js';
import { renderPlans, revisionOf } from '../render/render.js';
import { loadClusterSpec } from '../inputs/cluster.js';
import { loadInventory, type Inventory } from '../inputs/inventory.js';
import { loadTaskFile } from '../inputs/task-file.js';
import { outcomeWord, renderTask, summaryTable, table } from './output.js';
import { VIEW_HEADERS, viewRow, type NodeView } from '../fleet/view.js';

export interface GlobalOptions {
  state: string;
  inventory: string;
  out?: (line: string) => void;
}

export interface RunOptions extends GlobalOptions {
  tasks?: string;
  cluster?: string;
  concurrency: number;
  timeout: number;
  diff: boolean;
  json?: boolean;
}

// Exit codes: 0 done and nothing (left) to change, 1 error or failure, 2 plan found changes.
export const EXIT = { OK: 0, FAILED: controllerErrors.NODE_FAILED.exit, CHANGES: controllerErrors.CHANGES_PENDING.exit } as const;

function printer(o: GlobalOptions) {
  return o.out ?? ((line: string) => process.stdout.write(line + '\n'));
}

export async function initCommand(o: GlobalOptions): Promise<number> {
  const print = printer(o);
  const inv = await loadInventory(o.inventory);
  const { created, kept } = await initFleet(o.state, inv);
  const dir = fleetStore(o.state).dir;
  print(`[init] fleet PKI in ${dir}: ${created.length} created, ${kept.length} kept`);
  for (const name of created) print(`[init]   created ${name}`);
  print(`[init] copy to each node: ${path.join(dir, 'ca.crt')} → /etc/muster/pki/ca.crt, ${path.join(dir, 'agents', '<node>.crt')} and .key → /etc/muster/pki/agent.crt and agent.key`);
  return EXIT.OK;
}

// Every input is loaded and rendered before any agent is contacted: a bad file sends nothing.
export async function renderAll(o: { state: string; inventory: string; tasks?: string; cluster?: string }): Promise<{ inv: Inventory; plans: Plan[] }> {
  if (!o.tasks && !o.cluster) throw new ControllerError('SPEC_INVALID', 'give a cluster spec (-c cluster.yaml), a task file (-t tasks.yaml), or both');
  const inv = await loadInventory(o.inventory);
  const pki = new ClusterPki(o.state, inv.cluster);
  const fromCluster = o.cluster ? await renderClusterPlans(inv, await loadClusterSpec(o.cluster, inv), pki) : [];
  const fromTasks = o.tasks ? await renderPlans(inv, await loadTaskFile(o.tasks), pki) : [];
  return { inv, plans: mergePlans(inv, fromCluster, fromTasks) };
}

// A cluster spec and a task file together: the task file's tasks follow the cluster's on each node.
function mergePlans(inv: Inventory, ...sets: Plan[][]): Plan[] {
  return inv.nodes.map((n) => {
    const parts = sets.map((set) => set.find((p) => p.node === n.name)).filter((p): p is Plan => !!p);
    if (parts.length === 1) return parts[0];
    const plan: Plan = {
      node: n.name,
      revision: '',
      tasks: parts.flatMap((p) => p.tasks),
      handlers: parts.flatMap((p) => p.handlers),
      probes: parts.flatMap((p) => p.probes),
      // The cluster spec's policy wins over a task file's.
      driftPolicy: parts[0].driftPolicy,
    };
    plan.revision = revisionOf(plan);
    return plan;
  });
}

async function prepare(o: RunOptions): Promise<{ inv: Inventory; plans: Plan[]; fleet: Fleet }> {
  const { inv, plans } = await renderAll(o);
  const creds = await readFleetCredentials(o.state);
  return { inv, plans, fleet: new Fleet(inv.nodes, creds) };
}

export async function planCommand(o: RunOptions): Promise<number> {
  const print = printer(o);
  const { plans, fleet } = await prepare(o);
  try {
    const outcomes = await fleet.run(plans, { mode: ApplyMode.APPLY_MODE_CHECK, concurrency: o.concurrency, timeoutMs: o.timeout * 1000 });
    if (o.json) {
      print(JSON.stringify(outcomes.map(outcomeJson), null, 2));
    } else {
      for (const out of outcomes) printNode(print, out, o.diff, false);
      print('');
      print(summaryTable(outcomes));
    }
    const unreachable = outcomes.filter((x) => x.error || x.summary?.failed);
    const changes = outcomes.filter((x) => x.summary?.wouldChange);
    if (!o.json) print(`\n[plan] ${plans.length} nodes: ${changes.length} would change, ${unreachable.length} failed or unreachable`);
    if (unreachable.length) return EXIT.FAILED;
    return changes.length ? EXIT.CHANGES : EXIT.OK;
  } finally {
    fleet.close();
  }
}

export async function applyCommand(o: RunOptions): Promise<number> {
  const print = printer(o);
  const { plans, fleet } = await prepare(o);
  const started = performance.now();
  let done = 0;
  try {
    const outcomes = await fleet.run(plans, {
      mode: ApplyMode.APPLY_MODE_APPLY,
      concurrency: o.concurrency,
      timeoutMs: o.timeout * 1000,
      onNode: (out) => {
        done++;
        if (!o.json) printNode(print, out, o.diff, true, `[${done}/${plans.length}]`);
      },
    });
    const failed = outcomes.filter((x) => x.error || x.summary?.failed);
    if (o.json) print(JSON.stringify(outcomes.map(outcomeJson), null, 2));
    else {
      print('');
      print(summaryTable(outcomes));
      const changed = outcomes.filter((x) => x.summary?.changed).length;
      print(`\n[apply] ${plans.length} nodes in ${Math.round(performance.now() - started)} ms: ${changed} changed, ${failed.length} failed or unreachable`);
    }
    return failed.length ? EXIT.FAILED : EXIT.OK;
  } finally {
    fleet.close();
  }
}

function printNode(print: (l: string) => void, out: ApplyOutcome, showDiffs: boolean, applying: boolean, prefix = '') {
  const tag = applying ? '[apply]' : '[plan]';
  const head = `${tag}${prefix ? ' ' + prefix : ''} ${out.node}`;
  if (out.error) {
    print(`${head}: ${out.error}`);
    return;
  }
  const s = out.summary!;
  const counts = applying ? `${s.changed} changed, ${s.ok} ok` : `${s.wouldChange} would change, ${s.ok} ok`;
  print(`${head}: ${outcomeWord(out)} (${counts}${s.failed ? `, ${s.failed} failed` : ''}) revision ${s.revision}`);
  for (const r of out.results) {
    if (r.status === TaskStatus.TASK_STATUS_OK || (r.status === TaskStatus.TASK_STATUS_SKIPPED && !r.errorCode)) continue;
    print(renderTask(r, showDiffs));
  }
}

function outcomeJson(o: ApplyOutcome) {
  return {
    node: o.node,
    result: outcomeWord(o),
    error: o.error,
    revision: o.summary?.revision,
    durationMs: Math.round(o.durationMs),
    tasks: o.results.map((r) => ({ id: r.id, kind: r.kind, status: r.status === TaskStatus.TASK_STATUS_WOULD_CHANGE ? 'would-change' : TaskStatus[r.status].replace('TASK_STATUS_', '').toLowerCase(), errorCode: r.errorCode || undefined, errorMessage: r.errorMessage || undefined, diffs: r.diffs })),
  };
}

export async function statusCommand(o: GlobalOptions & { concurrency: number; json?: boolean; watch?: boolean }): Promise<number> {
  const print = printer(o);
  const inv = await loadInventory(o.inventory);
  const fleet = new Fleet(inv.nodes, await readFleetCredentials(o.state));
  if (o.watch) return watchFleet(fleet, inv, print);
  try {
    const views: NodeView[] = await mapLimit(inv.nodes, o.concurrency, async (node) => {
      const now = Date.now();
      try {
        return { node, status: (await fleet.client(node).status()).status, updatedAtMs: now };
      } catch (err) {
        return { node, error: (err as Error).message.replace(/^node \S+ \([^)]*\): /, ''), errorSinceMs: now, updatedAtMs: now };
      }
    });
    if (o.json) print(JSON.stringify(views.map(viewJson), null, 2));
    else print(table(VIEW_HEADERS, views.map(viewRow)));
    return views.every((v) => v.status) ? EXIT.OK : EXIT.FAILED;
  } finally {
    fleet.close();
  }
}

export function viewJson(v: NodeView) {
  return { node: v.node.name, roles: v.node.roles, reachable: !v.error, error: v.error, errorSince: v.errorSinceMs ? new Date(v.errorSinceMs).toISOString() : undefined, status: v.status ? NodeStatus.toJSON(v.status) : undefined };
}

// A live view fed by every agent's status stream; the table is redrawn on every change.
async function watchFleet(fleet: Fleet, inv: Inventory, print: (l: string) => void): Promise<number> {
  const tty = process.stdout.isTTY;
  let drawn = '';
  const monitor = new FleetMonitor(fleet, inv, {
    change: () => draw(),
    drift: (node, d) => {
      if (!tty) print(`[drift] ${node}: ${d.path} ${d.what}${d.repaired ? `, repaired in ${Math.round(d.repairUs / 1000)} ms` : d.error ? `: ${d.error}` : ', reported'}`);
    },
  });
  const draw = () => {
    const text = table(VIEW_HEADERS, [...monitor.views.values()].map(viewRow));
    if (text === drawn) return;
    drawn = text;
    if (tty) process.stdout.write('\x1b[2J\x1b[H');
    print(`muster status --watch  ${new Date().toISOString()}  (Ctrl-C to stop)\n${text}\n`);
  };
  monitor.start();
  draw();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  monitor.stop();
  fleet.close();
  return EXIT.OK;
}

export async function factsCommand(o: GlobalOptions & { node: string; refresh: boolean }): Promise<number> {
  const print = printer(o);
  const inv = await loadInventory(o.inventory);
  const node = inv.nodes.find((n) => n.name === o.node);
  if (!node) throw new ControllerError('UNKNOWN_NODE', `node ${o.node} is not in ${inv.file}`);
  const fleet = new Fleet(inv.nodes, await readFleetCredentials(o.state));
  try {
    const { facts } = await fleet.client(node).facts(o.refresh);
    print(JSON.stringify(facts, null, 2));
    return EXIT.OK;
  } finally {
    fleet.close();
  }
}
