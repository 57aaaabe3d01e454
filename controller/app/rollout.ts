import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { ApplyMode, Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import { ControllerError } from '../errors.js';
import type { ApplyOutcome } from '../fleet/client.js';
import { snapshotEtcd } from '../fleet/etcd-snapshots.js';
import type { Fleet } from '../fleet/fleet.js';
import { loadInventory, type Inventory } from '../inputs/inventory.js';
// The CLI's rollouts dial with the controller certificate and the fleet CA, as they always have.
import { healthOf, outcomeOf } from '../rollout/adapters.js';
import { abortRollout, pauseRollout, rolloutStatus, type RolloutStatus } from '../rollout/control.js';
import { etcdLeader } from '../rollout/gates.js';
import { takeRolloutLock } from '../rollout/lock.js';
import type { Dispatcher, EtcdSnapshotter, HealthSource, NodeHealth } from '../rollout/ports.js';
import { RolloutRunner, type RolloutNodeInput, type RolloutOptions } from '../rollout/runner.js';
import { planWaves, type WavePlan } from '../rollout/waves.js';
import type { JournalEntry, OpenWait, Operator, RolloutRecord, RolloutState, Store } from '../store/store.js';
import { tapStore } from './events.js';
import { localContext, withContext, type AppContext } from './context.js';
import { savePlanGenerations } from './history.js';
import { selectNodes } from './limit.js';
import { buildPlanSet, type InputFiles, type PlanSet } from './plan-set.js';

// `muster rollout` and its subcommands: the plan set, checked on every agent, then the
// RolloutRunner over the fleet (Apply with generation and rollback; GetStatus for the gates),
// holding the rollout lock of the state folder while it drives.

const IN_PROGRESS_RETRY_MS = 500;

export interface FleetCallOptions {
  state: string;
  inventory: string;
  // Deadline of each Apply (and of each GetStatus, at most 10 s).
  timeoutMs: number;
}

export interface Progress {
  onEntry?: (e: JournalEntry) => void;
  onWait?: (w: OpenWait) => void;
  // Who asked, for the history (default: the user at this terminal).
  operator?: Operator;
  // Whether this controller may dispatch (muster serve: it leads); the runner stops when not.
  leading?: () => boolean;
}

type FleetPorts = Dispatcher & HealthSource & EtcdSnapshotter;

// The runner's ports over real agents: Apply for the dispatcher, one GetStatus per node per
// poll for the gates, SnapshotEtcd before the first etcd wave.
export function fleetPorts(fleet: Fleet, inv: Inventory, timeoutMs: number): FleetPorts {
  const byName = new Map(inv.nodes.map((n) => [n.name, n]));
  const node = (name: string) => {
    const n = byName.get(name);
    if (!n) throw new ControllerError('UNKNOWN_NODE', `${name} is part of the rollout but not in the inventory ${inv.file}`);
    return n;
  };
  return {
    async dispatch(req) {
      const mode = req.mode === 'check' ? ApplyMode.APPLY_MODE_CHECK : ApplyMode.APPLY_MODE_APPLY;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const out = await fleet.client(node(req.node)).apply(Plan.decode(req.plan), mode, { timeoutMs, generation: req.generation, rollback: req.rollback });
        // After a controller crash the agent may still be running the apply sent before it: wait for that one to end.
        if (!out.error?.includes('APPLY_IN_PROGRESS') || Date.now() + IN_PROGRESS_RETRY_MS > deadline) return outcomeOf(out);
        await delay(IN_PROGRESS_RETRY_MS);
      }
    },
    async snapshot(name) {
      const s = await snapshotEtcd(node(name), fleet.channelCredentials);
      return { path: s.path, sizeBytes: s.sizeBytes, revision: s.revision, sha256: s.sha256 };
    },
    async health(name) {
      try {
        return healthOf((await fleet.client(node(name)).status(Math.min(timeoutMs, 10_000))).status);
      } catch (err) {
        return healthOf(undefined, (err as Error).message);
      }
    },
  };
}

export interface RolloutPreview {
  planSet: PlanSet;
  // The plans rolled out: every node's, or those --limit selected.
  plans: Plan[];
  // Check mode on every node, as `muster plan` shows it.
  outcomes: ApplyOutcome[];
  waves: WavePlan;
  nodes: RolloutNodeInput[];
  fleet: Fleet;
  ports: FleetPorts;
  // What startRollout goes on with; close() releases it when the preview made it.
  ctx: AppContext;
  close(): void;
}

export interface PreviewOptions extends InputFiles, FleetCallOptions {
  concurrency: number;
  rollout: RolloutOptions;
  // --limit: only these nodes (controller/app/limit.ts has the grammar).
  limit?: string;
  // Nothing is kept: certificates are issued in memory only, as plan does.
  dryRun?: boolean;
}

// The plans, their diff (check mode on every agent) and the waves the rollout would run.
export async function previewRollout(o: PreviewOptions, given?: AppContext): Promise<RolloutPreview> {
  const local = given ? undefined : localContext(o.state);
  try {
    return { ...(await preview(o, given ?? local!)), close: () => local?.close() };
  } catch (err) {
    local?.close();
    throw err;
  }
}

async function preview(o: PreviewOptions, ctx: AppContext): Promise<Omit<RolloutPreview, 'close'>> {
  // A bad --limit fails before anything is rendered or issued.
  if (o.limit !== undefined) selectNodes((await loadInventory(o.inventory)).nodes, o.limit);
  const planSet = await buildPlanSet({ ...o, persist: !o.dryRun });
  const chosen = new Set(selectNodes(planSet.inv.nodes, o.limit).map((n) => n.name));
  const plans = planSet.plans.filter((p) => chosen.has(p.node));
  const fleet = await ctx.fleet(planSet.inv);
  const ports = fleetPorts(fleet, planSet.inv, o.timeoutMs);
  const outcomes = await fleet.run(plans, { mode: ApplyMode.APPLY_MODE_CHECK, concurrency: o.concurrency, timeoutMs: o.timeoutMs });
  const byName = new Map(planSet.inv.nodes.map((n) => [n.name, n]));
  const nodes: RolloutNodeInput[] = plans.map((p) => ({ name: p.node, roles: [...byName.get(p.node)!.roles], labels: { ...byName.get(p.node)!.labels }, plan: Plan.encode(p).finish(), revision: p.revision }));
  const healths = new Map<string, NodeHealth>(await Promise.all(nodes.map(async (n) => [n.name, await ports.health(n.name)] as const)));
  const members = new Map([...healths].filter(([n]) => byName.get(n)!.roles.includes('etcd')));
  const waves = planWaves(nodes.map((n) => ({ name: n.name, roles: n.roles, labels: n.labels, changed: healths.get(n.name)!.revision !== n.revision })), { ...o.rollout, etcdLeader: etcdLeader(members)?.node });
  return { planSet, plans, outcomes, waves, nodes, fleet, ports, ctx };
}

// What a rollout's content is: every node's revision.
export function specHash(nodes: readonly RolloutNodeInput[]): string {
  return createHash('sha256').update(nodes.map((n) => `${n.name}:${n.revision}`).sort().join('\n')).digest('hex').slice(0, 16);
}

// Starts the previewed rollout and drives it until it is done, failed, paused or aborted.
export async function startRollout(p: RolloutPreview, o: { rollout: RolloutOptions } & Progress): Promise<RolloutRecord> {
  return withRunner(p.ctx, 'a new rollout', p.ports, o, async (store, runner) => {
    await refuseOverUnfinished(store);
    await savePlanGenerations(store, p.plans, (x) => Plan.encode(x).finish(), o.operator);
    return runner.start({ specHash: specHash(p.nodes), nodes: p.nodes, options: o.rollout, operator: o.operator });
  });
}

// A rollout left paused (or running, its controller dead) would later resume with plans older
// than the new one's: finish it, undo it or abort it first.
async function refuseOverUnfinished(store: Store): Promise<void> {
  const open = (await store.rollouts(100)).find((r) => r.state === 'paused' || r.state === 'running');
  if (!open) return;
  const how = open.state === 'paused' ? `is paused (${open.reason})` : 'is still running, its controller gone';
  throw new ControllerError('ROLLOUT_REFUSED', `rollout ${open.id} ${how}: "muster rollout resume", "muster rollout undo" or "muster rollout abort" it before starting another; nothing was sent`);
}

// Goes on with a paused rollout, or one whose controller died (taken up from its journal).
export async function resumeRollout(o: FleetCallOptions & Progress & { id?: string }, ctx?: AppContext): Promise<RolloutRecord> {
  return withContext(o.state, ctx, async (c) => (await beginResume(o, c)).done);
}

// Resume in two halves: returns once the rollout is running again (the lock taken, a paused one
// set running), with the promise of its end. muster serve answers after the first half.
export async function beginResume(o: FleetCallOptions & Progress & { id?: string }, ctx: AppContext): Promise<{ record: RolloutRecord; done: Promise<RolloutRecord> }> {
  const id = await pickRollout(ctx.store, o.id, ['running', 'paused']);
  const ports = await portsFor(o, ctx);
  const release = await takeRolloutLock(ctx.store, `rollout ${id}`);
  try {
    const runner = newRunner(ctx.store, ports, o);
    const record = await runner.reopen(id, o.operator);
    return { record, done: runner.run(id).finally(release) };
  } catch (err) {
    await release();
    throw err;
  }
}

// Rolls a rollout's earlier plans back out with its waves and gates (the rollback flag set); a
// rollout still paused or running (its controller dead) is aborted first so it cannot be resumed over the undo.
export async function undoRollout(o: FleetCallOptions & Progress & { id?: string; toGeneration?: number }, ctx?: AppContext): Promise<RolloutRecord> {
  return withContext(o.state, ctx, async (c) => {
    const id = await pickRollout(c.store, o.id);
    const ports = await portsFor(o, c);
    return withRunner(c, `the undo of rollout ${id}`, ports, o, async (store, runner) => {
      const r = (await store.rollout(id))!;
      if (r.state === 'running' || r.state === 'paused') await abortRollout(store, id, 'undone by "muster rollout undo"', o.operator);
      return runner.undo(id, { toGeneration: o.toGeneration, operator: o.operator });
    });
  });
}

export function controlRollout(o: { state: string; id?: string; reason?: string; operator?: Operator }, action: 'pause' | 'abort', ctx?: AppContext): Promise<RolloutRecord> {
  return withContext(o.state, ctx, async ({ store }) => {
    const id = await pickRollout(store, o.id, action === 'pause' ? ['running'] : ['running', 'paused']);
    return (action === 'pause' ? pauseRollout : abortRollout)(store, id, o.reason ?? '', o.operator);
  });
}

export function statusOfRollout(o: { state: string; id?: string }, ctx?: AppContext): Promise<RolloutStatus> {
  return withContext(o.state, ctx, async ({ store }) => rolloutStatus(store, await pickRollout(store, o.id)));
}

// The rollout named, or else the newest in one of the states (any state when none are given).
export async function pickRollout(store: Pick<Store, 'rollout' | 'rollouts'>, id: string | undefined, states?: RolloutState[]): Promise<string> {
  if (id) {
    if (!(await store.rollout(id))) throw new ControllerError('ROLLOUT_NOT_FOUND', `no rollout ${id} in this state folder (see "muster history")`);
    return id;
  }
  const r = (await store.rollouts(100)).find((x) => !states || states.includes(x.state));
  if (!r) throw new ControllerError('ROLLOUT_NOT_FOUND', states ? `no ${states.join(' or ')} rollout in this state folder: give its id (see "muster history")` : 'no rollout in this state folder yet');
  return r.id;
}

async function portsFor(o: FleetCallOptions, ctx: AppContext): Promise<FleetPorts> {
  const inv = await loadInventory(o.inventory);
  return fleetPorts(await ctx.fleet(inv), inv, o.timeoutMs);
}

// Runs fn with a runner over the ports while this process holds the rollout lock.
async function withRunner<T>(ctx: AppContext, purpose: string, ports: FleetPorts, progress: Progress, fn: (s: Store, r: RolloutRunner) => Promise<T>): Promise<T> {
  const { store } = ctx;
  const release = await takeRolloutLock(store, purpose);
  try {
    return await fn(store, newRunner(store, ports, progress));
  } finally {
    await release();
  }
}

function newRunner(store: Store, ports: FleetPorts, progress: Progress): RolloutRunner {
  return new RolloutRunner({ store: seeWaits(store, progress.onWait), dispatcher: ports, health: ports, snapshots: ports, onEntry: progress.onEntry, leading: progress.leading });
}

// The store as the runner sees it, with every wait it opens shown as it happens.
function seeWaits(store: Store, onWait?: (w: OpenWait) => void): Store {
  if (!onWait) return store;
  return tapStore(store, (method, args) => {
    if (method === 'setWait') onWait(args[0] as OpenWait);
  });
}
