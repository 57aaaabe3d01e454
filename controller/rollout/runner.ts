import { randomBytes } from 'node:crypto';
import { ControllerError } from '../errors.js';
import {
  currentOperator,
  type HistoryAction,
  type JournalEntry,
  type JournalStep,
  type Operator,
  type PlanRecord,
  type RolloutRecord,
  type Store,
  type WaveRecord,
} from '../store/store.js';
import { checkGate, etcdLeader, failureBudget, quorumGuard, type GateCheck } from './gates.js';
import { processHooks, systemClock, type Clock, type Dispatcher, type DispatchOutcome, type EtcdSnapshotter, type HealthSource, type HookRunner, type NodeHealth } from './ports.js';
import { planWaves, WAVE_ROLES, type WaveRole } from './waves.js';

// The rollout runner: drives a rollout's waves over the journal. Every node step is written
// to the journal before it takes effect, so a runner killed anywhere can be followed by another
// that reads the journal and goes on: a node dispatched but not recorded done is checked again
// (check mode, then apply), never assumed.

export type RoleMs = Partial<Record<WaveRole, number>>;

export interface RolloutOptions {
  batch?: string;
  by?: string;
  canary?: number;
  // Go on after the canary wave once it stayed healthy this long, instead of waiting for resume.
  canaryWaitMs?: number;
  // How many nodes may fail over the whole rollout: "3" or "10%" of the nodes it changes.
  maxFailed?: string;
  soakMs?: RoleMs;
  gateTimeoutMs?: RoleMs;
  pollMs?: number;
  // How far behind the leader's raft index a member may be and still pass its gate.
  etcdRaftLag?: number;
  // Commands run before and after each node (kubectl drain / uncordon), with MUSTER_NODE set.
  hooks?: { before?: string[]; after?: string[]; timeoutMs?: number };
}

export const DEFAULT_SOAK_MS: Record<WaveRole, number> = { etcd: 30_000, 'control-plane': 30_000, lb: 10_000, worker: 0 };
export const DEFAULT_GATE_TIMEOUT_MS: Record<WaveRole, number> = { etcd: 300_000, 'control-plane': 300_000, lb: 120_000, worker: 300_000 };
const DEFAULT_POLL_MS = 1_000;
const DEFAULT_RAFT_LAG = 1_000;
const DEFAULT_HOOK_TIMEOUT_MS = 300_000;

export interface RolloutNodeInput {
  name: string;
  roles: string[];
  labels?: Record<string, string>;
  // The node's new Plan, protobuf bytes, and its content revision.
  plan: Uint8Array;
  revision: string;
}

export interface StartInput {
  specHash: string;
  nodes: RolloutNodeInput[];
  options?: RolloutOptions;
  // The lb node holding the VIP, changed last; the etcd leader is read from the members.
  vipHolder?: string;
  operator?: Operator;
}

export interface UndoInput {
  // Send this generation to every node instead of each node's one before the rollout.
  toGeneration?: number;
  operator?: Operator;
}

export interface RunnerPorts {
  store: Store;
  dispatcher: Dispatcher;
  health: HealthSource;
  clock?: Clock;
  hooks?: HookRunner;
  // Takes the etcd snapshot before the first etcd wave; without it none is taken.
  snapshots?: EtcdSnapshotter;
  // Sees every journal entry as it is written (live output).
  onEntry?: (e: JournalEntry) => void;
  // Whether this controller may dispatch (HA: it holds the leadership); checked before every
  // dispatch and between gate polls. When false the runner stops and leaves the rollout
  // running, for the new leader to resume from the journal.
  leading?: () => boolean;
}

// What the rollout record's options hold beyond the operator's: enough to resume or undo
// from the store alone.
interface StoredOptions extends RolloutOptions {
  topology: Record<string, { roles: string[]; labels: Record<string, string> }>;
  etcdMembers: string[];
  rollback: boolean;
  // Each changed node's applied generation when the rollout began.
  before: Record<string, number>;
  vipHolder?: string;
}

type Progress = 'new' | 'hooked' | 'dispatched' | 'applied' | 'gating' | 'passed' | 'healthy' | 'failed' | 'skipped';

interface Run {
  r: RolloutRecord;
  opts: StoredOptions;
  waves: WaveRecord[];
  progress: Map<string, Progress>;
  failed: Map<string, string>;
  pausedWaves: Set<number>;
  budget: number;
  stopped: boolean;
  snapshotTaken: boolean;
}

const unreachable = (err: unknown): NodeHealth => ({ reachable: false, error: (err as Error).message ?? String(err), generation: 0, revision: '', probes: {} });

export class RolloutRunner {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly hooks: HookRunner;

  constructor(private readonly ports: RunnerPorts) {
    this.store = ports.store;
    this.clock = ports.clock ?? systemClock;
    this.hooks = ports.hooks ?? processHooks;
  }

  // Plans the waves, records the plans by generation and the rollout, and runs it. Refuses to
  // start (ROLLOUT_REFUSED, nothing sent) when the first etcd member cannot be changed safely.
  async start(input: StartInput): Promise<RolloutRecord> {
    const operator = input.operator ?? currentOperator();
    const begin = await this.prepare(input.nodes, input.options ?? {}, input.vipHolder, 'rollout', operator);
    const saved = await this.store.savePlans(input.nodes.map((n) => ({ node: n.name, revision: n.revision, plan: n.plan })), this.clock.now());
    const records = input.nodes.map((node, i) => ({ node, record: saved[i] }));
    return this.begin(begin, records, { specHash: input.specHash, operator, rollback: false });
  }

  // Rolls the plans a rollout replaced back out, with the same waves and gates; the agents
  // take the lower generation because the requests carry the rollback flag.
  async undo(rolloutId: string, input: UndoInput = {}): Promise<RolloutRecord> {
    const operator = input.operator ?? currentOperator();
    const r = await this.store.rollout(rolloutId);
    if (!r) throw new ControllerError('ROLLOUT_NOT_FOUND', `no rollout ${rolloutId}`);
    const opts = r.options as unknown as StoredOptions;
    const waves = await this.store.waves(rolloutId);
    const records: { node: RolloutNodeInput; record: PlanRecord }[] = [];
    for (const w of waves) {
      for (const name of w.nodes) {
        const target = input.toGeneration ?? (await this.store.generations(name)).find((g) => g.generation < w.generations[name])?.generation;
        const record = target === undefined ? undefined : await this.store.plan(name, target);
        if (!record) continue;
        const t = opts.topology[name];
        records.push({ node: { name, roles: t.roles, labels: t.labels, plan: record.plan, revision: record.revision }, record });
      }
    }
    if (!records.length) throw new ControllerError('ROLLOUT_NOT_FOUND', input.toGeneration ? `no node of rollout ${rolloutId} has a plan of generation ${input.toGeneration}` : `rollout ${rolloutId} changed no node that has an earlier generation to go back to`);
    const { topology: _t, etcdMembers: _e, rollback: _r, before: _b, vipHolder, ...options } = opts;
    // Nodes that were not part of the rollout keep their plans; the etcd guard still sees every member.
    const others = Object.entries(opts.topology).filter(([n]) => !records.some((x) => x.node.name === n));
    const begin = await this.prepare(records.map((x) => x.node), options, vipHolder, 'undo', operator, others.map(([name, t]) => ({ name, ...t })));
    return this.begin(begin, records, { specHash: r.specHash, operator, rollback: true, undoOf: rolloutId });
  }

  // Goes on with a rollout: a paused one is set running again; a running one whose runner died
  // is taken up from its journal.
  async resume(id: string, operator: Operator = currentOperator()): Promise<RolloutRecord> {
    await this.reopen(id, operator);
    return this.run(id);
  }

  // The first half of resume: a paused rollout is set running again (recorded in the history),
  // a running one is left as it is, any other is refused. run() then drives it.
  async reopen(id: string, operator: Operator = currentOperator()): Promise<RolloutRecord> {
    const r = await this.store.rollout(id);
    if (!r) throw new ControllerError('ROLLOUT_NOT_FOUND', `no rollout ${id}`);
    if (r.state !== 'running' && r.state !== 'paused') throw new ControllerError('ROLLOUT_REFUSED', `rollout ${id} is ${r.state}: nothing to resume`);
    if (r.state === 'running') return r;
    const next = await this.store.updateRollout(id, r.revision, { state: 'running', reason: '' }, this.clock.now());
    await this.history('resume', id, '', 'running', 0, 0, operator, r.reason);
    return next;
  }

  // Drives a running rollout until it is done, failed, paused or aborted.
  async run(id: string): Promise<RolloutRecord> {
    const run = await this.load(id);
    if (run.r.state !== 'running') return run.r;
    for (const wave of run.waves) {
      if (!(await this.mayGoOn(run))) return run.r;
      if (wave.role === 'etcd' && !(await this.snapshot(run, wave))) return this.refresh(run);
      await this.runWave(run, wave);
      if (run.stopped) return this.refresh(run);
      if (wave.pauseAfter && !run.pausedWaves.has(wave.index)) {
        const goOn = await this.canary(run, wave);
        if (!goOn) return this.refresh(run);
      }
    }
    const failed = [...run.failed.keys()];
    const state = failed.length ? 'failed' : 'done';
    const reason = failed.length ? `${failed.length} node(s) failed, within the budget of ${run.budget}: ${failed.join(', ')}` : '';
    if (await this.setState(run, state, reason, ['running'])) {
      await this.history(run.opts.rollback ? 'undo' : 'rollout', id, '', state, 0, 0, run.r.operator, reason);
    }
    return run.r;
  }

  // --- starting ---

  private async prepare(nodes: RolloutNodeInput[], options: RolloutOptions, vipHolder: string | undefined, action: HistoryAction, operator: Operator, others: { name: string; roles: string[]; labels: Record<string, string> }[] = []) {
    checkTimes(options);
    const healths = new Map(await Promise.all(nodes.map(async (n) => [n.name, await this.healthOf(n.name)] as const)));
    const etcdMembers = [...nodes, ...others].filter((n) => n.roles.includes('etcd')).map((n) => n.name).sort();
    const members = await this.healthMap(etcdMembers, healths);
    const leader = etcdLeader(members)?.node;
    const plan = planWaves(nodes.map((n) => ({ name: n.name, roles: n.roles, labels: n.labels, changed: healths.get(n.name)!.revision !== n.revision })), { ...options, etcdLeader: leader, vipHolder });
    const changed = plan.waves.flatMap((w) => w.nodes);
    const budget = failureBudget(options.maxFailed, changed.length);
    const first = plan.waves.find((w) => w.role === 'etcd');
    if (first) {
      const why = quorumGuard(first.nodes[0], members);
      if (why) {
        await this.history(action, '', '', 'refused', 0, 0, operator, why);
        throw new ControllerError('ROLLOUT_REFUSED', `refusing to start: ${why}`);
      }
    }
    const topology = Object.fromEntries([...nodes, ...others].map((n) => [n.name, { roles: [...n.roles], labels: { ...(n.labels ?? {}) } }]));
    const before = Object.fromEntries(changed.map((n) => [n, healths.get(n)!.generation]));
    return { plan, budget, stored: { ...options, topology, etcdMembers, before, vipHolder } };
  }

  private async begin(
    prepared: Awaited<ReturnType<RolloutRunner['prepare']>>,
    records: { node: RolloutNodeInput; record: PlanRecord }[],
    meta: { specHash: string; operator: Operator; rollback: boolean; undoOf?: string },
  ): Promise<RolloutRecord> {
    const now = this.clock.now();
    const id = `${new Date(now).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
    const gen = new Map(records.map((x) => [x.node.name, x.record.generation]));
    const options: StoredOptions = { ...prepared.stored, rollback: meta.rollback };
    const waves = prepared.plan.waves.map((w, index) => ({ index, role: w.role, label: w.label, nodes: w.nodes, pauseAfter: w.pauseAfter, generations: Object.fromEntries(w.nodes.map((n) => [n, gen.get(n)!])) }));
    await this.store.createRollout({ id, specHash: meta.specHash, options: options as unknown as Record<string, unknown>, state: 'running', reason: '', undoOf: meta.undoOf, operator: meta.operator, createdAtMs: now }, waves);
    for (const s of prepared.plan.skipped) await this.journal(id, -1, s.node, 'skipped', gen.get(s.node) ?? 0, s.reason);
    const nodes = waves.reduce((n, w) => n + w.nodes.length, 0);
    await this.history(meta.rollback ? 'undo' : 'rollout', id, '', 'started', 0, 0, meta.operator, `${waves.length} wave(s), ${nodes} node(s) to change, ${prepared.plan.skipped.length} unchanged${meta.undoOf ? `, undoing ${meta.undoOf}` : ''}`);
    return this.run(id);
  }

  private async load(id: string): Promise<Run> {
    const r = await this.store.rollout(id);
    if (!r) throw new ControllerError('ROLLOUT_NOT_FOUND', `no rollout ${id}`);
    const opts = r.options as unknown as StoredOptions;
    const waves = await this.store.waves(id);
    const progress = new Map<string, Progress>();
    const failed = new Map<string, string>();
    const pausedWaves = new Set<number>();
    let snapshotTaken = false;
    for (const e of await this.store.entries(id)) {
      if (e.step === 'snapshot') snapshotTaken = true;
      else if (e.step === 'paused') pausedWaves.add(e.wave);
      else progress.set(e.node, progressOf(e));
      if (e.step === 'failed') failed.set(e.node, e.detail);
    }
    const total = waves.reduce((n, w) => n + w.nodes.length, 0);
    return { r, opts, waves, progress, failed, pausedWaves, budget: failureBudget(opts.maxFailed, total), stopped: false, snapshotTaken };
  }

  // --- waves and nodes ---

  private async runWave(run: Run, wave: WaveRecord): Promise<void> {
    const todo = wave.nodes.filter((n) => !['healthy', 'failed', 'skipped'].includes(run.progress.get(n) ?? 'new'));
    // Every node of the wave ends its step before the error (a killed runner) goes up.
    const settled = await Promise.allSettled(todo.map((n) => this.runNode(run, wave, n)));
    const dead = settled.find((s) => s.status === 'rejected');
    if (dead) throw (dead as PromiseRejectedResult).reason;
  }

  private async runNode(run: Run, wave: WaveRecord, node: string): Promise<void> {
    const generation = wave.generations[node];
    const roles = run.opts.topology[node].roles;
    const hooks = run.opts.hooks ?? {};
    const step = (s: JournalStep, detail = '') => this.journal(run.r.id, wave.index, node, s, generation, detail);
    for (;;) {
      const at = run.progress.get(node) ?? 'new';
      if (at === 'new' || at === 'hooked') {
        if (!(await this.mayGoOn(run))) return;
        if (roles.includes('etcd')) {
          const why = quorumGuard(node, await this.healthMap(run.opts.etcdMembers));
          if (why) return this.pause(run, `etcd quorum guard before ${node}: ${why}`);
        }
        if (at === 'new') {
          if (hooks.before?.length) {
            const out = await this.hooks.run(hooks.before, { MUSTER_NODE: node, MUSTER_ROLLOUT: run.r.id }, hooks.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS);
            await step('hook', `before: ${hooks.before.join(' ')}: ${out.ok ? 'ok' : 'failed'}${out.output ? `\n${out.output}` : ''}`);
            if (!out.ok) return this.fail(run, node, `the before hook failed: ${out.output}`, step);
          }
          run.progress.set(node, 'hooked');
          continue;
        }
        await step('dispatched', 'apply');
        run.progress.set(node, 'dispatched');
        const out = await this.dispatch(run, node, wave, 'apply');
        if (out.status !== 'converged') return this.fail(run, node, failure(out), step);
        await step('applied', `${out.changed} changed`);
        run.progress.set(node, 'applied');
      } else if (at === 'dispatched') {
        if (!(await this.mayGoOn(run))) return;
        // Dispatched by a runner that died before recording the result: look, never assume.
        const check = await this.dispatch(run, node, wave, 'check');
        if (check.status === 'failed' || check.status === 'unreachable') return this.fail(run, node, failure(check), step);
        const health = await this.healthOf(node);
        if (check.status === 'converged' && health.generation === generation) {
          await step('applied', 'checked again on resume: already applied');
          run.progress.set(node, 'applied');
          continue;
        }
        await step('dispatched', `apply (resume: the check found ${check.status === 'converged' ? 'an older generation applied' : 'changes'})`);
        const out = await this.dispatch(run, node, wave, 'apply');
        if (out.status !== 'converged') return this.fail(run, node, failure(out), step);
        await step('applied', `${out.changed} changed`);
        run.progress.set(node, 'applied');
      } else if (at === 'applied') {
        await step('gating');
        run.progress.set(node, 'gating');
      } else if (at === 'gating') {
        const gate = await this.gate(run, wave.role as WaveRole, node, roles, generation);
        if (gate === 'aborted') return;
        if (!gate.ok) return this.fail(run, node, `gate: ${gate.probe}: ${gate.error}`, step, generation);
        if (hooks.after?.length) {
          const out = await this.hooks.run(hooks.after, { MUSTER_NODE: node, MUSTER_ROLLOUT: run.r.id }, hooks.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS);
          await step('hook', `after: ${hooks.after.join(' ')}: ${out.ok ? 'ok' : 'failed'}${out.output ? `\n${out.output}` : ''}`);
          if (!out.ok) return this.fail(run, node, `the after hook failed: ${out.output}`, step, generation);
        }
        run.progress.set(node, 'passed');
      } else if (at === 'passed') {
        await step('healthy', 'gates passed');
        run.progress.set(node, 'healthy');
        await this.history(run.opts.rollback ? 'undo' : 'rollout', run.r.id, node, 'healthy', run.opts.before[node] ?? 0, generation, run.r.operator, '');
        return;
      } else {
        return;
      }
    }
  }

  private async dispatch(run: Run, node: string, wave: WaveRecord, mode: 'check' | 'apply'): Promise<DispatchOutcome> {
    const generation = wave.generations[node];
    const record = await this.store.plan(node, generation);
    if (!record) return { status: 'failed', changed: 0, error: `the store has no plan of generation ${generation} for ${node}` };
    return this.ports.dispatcher.dispatch({ node, mode, plan: record.plan, revision: record.revision, generation, rollback: run.opts.rollback });
  }

  // Once per rollout, before the first etcd member changes: a snapshot on that member, or on
  // another healthy one when it is down (an undo of a broken member), journaled. A failed
  // snapshot pauses the rollout with nothing dispatched. Returns whether to go on.
  private async snapshot(run: Run, wave: WaveRecord): Promise<boolean> {
    if (run.snapshotTaken || !this.ports.snapshots) return true;
    const members = await this.healthMap(run.opts.etcdMembers);
    const order = [wave.nodes[0], ...run.opts.etcdMembers.filter((n) => n !== wave.nodes[0])];
    const node = order.find((n) => members.get(n)?.probes.etcd?.healthy) ?? wave.nodes[0];
    try {
      const s = await this.ports.snapshots.snapshot(node);
      await this.journal(run.r.id, wave.index, node, 'snapshot', 0, `${s.path}, ${s.sizeBytes} bytes, revision ${s.revision}, sha256 ${s.sha256}`);
      run.snapshotTaken = true;
      return true;
    } catch (err) {
      await this.pause(run, `etcd snapshot on ${node} before the first etcd member changes failed: ${(err as Error).message}`);
      return false;
    }
  }

  // applied: the generation the node holds now when the failure came after its apply.
  private async fail(run: Run, node: string, error: string, step: (s: JournalStep, d: string) => Promise<JournalEntry>, applied?: number): Promise<void> {
    await step('failed', error);
    run.progress.set(node, 'failed');
    run.failed.set(node, error);
    const before = run.opts.before[node] ?? 0;
    await this.history(run.opts.rollback ? 'undo' : 'rollout', run.r.id, node, 'failed', before, applied ?? before, run.r.operator, error);
    const roles = run.opts.topology[node].roles;
    const critical = roles.find((r) => r === 'etcd' || r === 'control-plane');
    if (critical) return this.pause(run, `${critical} node ${node} failed: ${error}`);
    if (run.failed.size > run.budget) {
      return this.pause(run, `error budget spent: ${run.failed.size} node(s) failed, at most ${run.budget} allowed (${[...run.failed.keys()].join(', ')})`);
    }
  }

  // --- gates ---

  // Waits until the node passes its gates and stays so for the soak time, or the gate times out.
  private async gate(run: Run, role: WaveRole, node: string, roles: string[], generation: number): Promise<GateCheck | 'aborted'> {
    const waveRoles = roles.filter((r): r is WaveRole => (WAVE_ROLES as readonly string[]).includes(r));
    const soak = Math.max(...waveRoles.map((r) => run.opts.soakMs?.[r] ?? DEFAULT_SOAK_MS[r]));
    const timeout = Math.max(...waveRoles.map((r) => run.opts.gateTimeoutMs?.[r] ?? DEFAULT_GATE_TIMEOUT_MS[r]));
    const poll = run.opts.pollMs ?? DEFAULT_POLL_MS;
    const started = this.clock.now();
    let healthySince: number | undefined;
    let open: { probe: string; lastError: string } | undefined;
    for (;;) {
      const c = await this.check(run, node, roles, generation);
      const now = this.clock.now();
      let wait: { probe: string; lastError: string } | undefined;
      if (c.ok) {
        healthySince ??= now;
        if (now - healthySince >= soak) {
          if (open) await this.store.clearWait(run.r.id, node);
          return c;
        }
        // Constant while it holds, so a long soak writes its wait once.
        wait = { probe: 'soak', lastError: `passing since ${new Date(healthySince).toISOString()}; soak ${soak} ms` };
      } else {
        healthySince = undefined;
        wait = { probe: c.probe, lastError: c.error };
        if (now - started >= timeout) {
          if (open) await this.store.clearWait(run.r.id, node);
          return { ok: false, probe: c.probe, error: `no pass within ${timeout} ms (${role} gate timeout): ${c.error}` };
        }
      }
      if (open?.probe !== wait.probe || open.lastError !== wait.lastError) {
        open = wait;
        await this.store.setWait({ rolloutId: run.r.id, node, probe: wait.probe, lastError: wait.lastError, sinceMs: started, updatedAtMs: now });
      }
      await this.clock.sleep(poll);
      // Another process may abort; a pause lets the gates in flight finish; a lost leadership stops here.
      if (!this.leading() || (await this.refresh(run)).state === 'aborted') {
        run.stopped = true;
        return 'aborted';
      }
    }
  }

  private async check(run: Run, node: string, roles: string[], generation: number): Promise<GateCheck> {
    const h = await this.healthOf(node);
    let leaderRaftIndex: number | undefined;
    if (roles.includes('etcd')) leaderRaftIndex = etcdLeader(await this.healthMap(run.opts.etcdMembers, new Map([[node, h]])))?.raftIndex;
    return checkGate(roles, h, { generation, leaderRaftIndex, raftLag: run.opts.etcdRaftLag ?? DEFAULT_RAFT_LAG });
  }

  // After the canary wave: pause until resumed, or, with a canary wait, go on once the canary
  // nodes stayed healthy that long. Returns whether to go on now.
  private async canary(run: Run, wave: WaveRecord): Promise<boolean> {
    const wait = run.opts.canaryWaitMs;
    if (wait === undefined) {
      await this.pause(run, `canary: ${wave.nodes.length} worker(s) done (${wave.label}); resume to go on`);
      await this.journal(run.r.id, wave.index, '', 'paused', 0, 'canary');
      return false;
    }
    const started = this.clock.now();
    const poll = run.opts.pollMs ?? DEFAULT_POLL_MS;
    for (;;) {
      for (const node of wave.nodes) {
        if (run.failed.has(node)) continue;
        const c = await this.check(run, node, run.opts.topology[node].roles, wave.generations[node]);
        if (!c.ok) {
          await this.pause(run, `canary: ${node} unhealthy during the canary wait: ${c.probe}: ${c.error}`);
          return false;
        }
      }
      if (this.clock.now() - started >= wait) break;
      await this.clock.sleep(Math.min(poll, wait));
    }
    await this.journal(run.r.id, wave.index, '', 'paused', 0, `canary healthy for ${wait} ms: going on`);
    run.pausedWaves.add(wave.index);
    return true;
  }

  // --- state ---

  // Reads the rollout again (another process may have paused or aborted it).
  private async mayGoOn(run: Run): Promise<boolean> {
    if (run.stopped) return false;
    if (!this.leading()) {
      run.stopped = true;
      return false;
    }
    await this.refresh(run);
    if (run.r.state !== 'running') run.stopped = true;
    return !run.stopped;
  }

  private leading(): boolean {
    return this.ports.leading?.() ?? true;
  }

  private async refresh(run: Run): Promise<RolloutRecord> {
    const now = await this.store.rolloutState(run.r.id);
    if (now) run.r = { ...run.r, ...now };
    return run.r;
  }

  private async pause(run: Run, reason: string): Promise<void> {
    run.stopped = true;
    if (await this.setState(run, 'paused', reason, ['running'])) {
      await this.history('pause', run.r.id, '', 'paused', 0, 0, run.r.operator, reason);
    }
  }

  // Compare-and-swap from one of the given states; false when the rollout is elsewhere now.
  private async setState(run: Run, state: RolloutRecord['state'], reason: string, from: RolloutRecord['state'][]): Promise<boolean> {
    for (;;) {
      const r = await this.refresh(run);
      if (!from.includes(r.state)) return false;
      try {
        run.r = await this.store.updateRollout(r.id, r.revision, { state, reason }, this.clock.now());
        return true;
      } catch (err) {
        if ((err as ControllerError).code !== 'STORE_CONFLICT') throw err;
      }
    }
  }

  private async journal(rolloutId: string, wave: number, node: string, step: JournalStep, generation: number, detail: string): Promise<JournalEntry> {
    const e = await this.store.journal({ rolloutId, wave, node, step, generation, detail, atMs: this.clock.now() });
    this.ports.onEntry?.(e);
    return e;
  }

  private async history(action: HistoryAction, subject: string, node: string, result: string, before: number, after: number, operator: Operator, detail: string): Promise<void> {
    await this.store.record({ atMs: this.clock.now(), operator, action, subject, node, result, generationBefore: before, generationAfter: after, detail });
  }

  private async healthOf(node: string): Promise<NodeHealth> {
    return this.ports.health.health(node).catch(unreachable);
  }

  private async healthMap(nodes: string[], known: ReadonlyMap<string, NodeHealth> = new Map()): Promise<Map<string, NodeHealth>> {
    return new Map(await Promise.all(nodes.map(async (n) => [n, known.get(n) ?? (await this.healthOf(n))] as const)));
  }
}

// Times are whole milliseconds, none negative; a poll of 0 would spin.
function checkTimes(o: RolloutOptions): void {
  const times: [string, number | undefined][] = [
    ['canaryWaitMs', o.canaryWaitMs], ['pollMs', o.pollMs], ['etcdRaftLag', o.etcdRaftLag], ['hooks.timeoutMs', o.hooks?.timeoutMs],
    ...Object.entries(o.soakMs ?? {}).map(([r, v]): [string, number] => [`soakMs.${r}`, v]),
    ...Object.entries(o.gateTimeoutMs ?? {}).map(([r, v]): [string, number] => [`gateTimeoutMs.${r}`, v]),
  ];
  for (const [name, v] of times) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw new ControllerError('ROLLOUT_INVALID', `${name} ${v}: give a whole number of milliseconds, 0 or more`);
  }
  if (o.pollMs === 0) throw new ControllerError('ROLLOUT_INVALID', 'pollMs 0: give at least 1 ms between health polls');
  for (const r of [...Object.keys(o.soakMs ?? {}), ...Object.keys(o.gateTimeoutMs ?? {})]) {
    if (!(WAVE_ROLES as readonly string[]).includes(r)) throw new ControllerError('ROLLOUT_INVALID', `soak or gate timeout for unknown role ${r}`);
  }
  for (const [name, argv] of [['before', o.hooks?.before], ['after', o.hooks?.after]] as const) {
    if (argv && (!Array.isArray(argv) || argv.some((a) => typeof a !== 'string') || (argv.length > 0 && !argv[0]))) throw new ControllerError('ROLLOUT_INVALID', `hooks.${name}: give the command as a list of strings, the program first`);
  }
}

function progressOf(e: JournalEntry): Progress {
  if (e.step === 'hook') return e.detail.startsWith('before') ? 'hooked' : 'passed';
  return e.step as Progress;
}

function failure(out: DispatchOutcome): string {
  return `${out.status}${out.error ? `: ${out.error}` : ''}`;
}
