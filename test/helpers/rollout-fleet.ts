import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Clock, Dispatcher, DispatchOutcome, DispatchRequest, HealthSource, NodeHealth, ProbeView } from '../../controller/rollout/ports.js';
import type { RolloutNodeInput } from '../../controller/rollout/runner.js';
import { openStore, type SqliteStore } from '../../controller/store/sqlite.js';
import type { Store } from '../../controller/store/store.js';

// Fake ports for the rollout runner: a clock that jumps, and a simulated fleet standing in for
// agents and their status streams (no network). A static pod's running hash follows its manifest
// restartMs after an apply, as a kubelet restarts a pod whose manifest changed; the member is
// down meanwhile.

export class FakeClock implements Clock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.t += ms;
  }
}

export interface SimNode {
  name: string;
  roles: string[];
  labels: Record<string, string>;
  revision: string;
  generation: number;
  // The manifest hash the running pod was started from, and when it catches up.
  running: string;
  restartAt: number;
  raftIndex: number;
  // Faults a test sets.
  unreachable?: boolean;
  failApply?: string;
  // Probe name → error: that probe reports unhealthy.
  sick?: Record<string, string>;
}

export interface ApplyCall {
  node: string;
  mode: DispatchRequest['mode'];
  generation: number;
  revision: string;
  rollback: boolean;
  at: number;
}

export class SimFleet implements Dispatcher, HealthSource {
  readonly nodes = new Map<string, SimNode>();
  readonly calls: ApplyCall[] = [];
  // Applies sent to a node already at that revision and generation: double dispatches.
  readonly doubles: string[] = [];
  // Times an etcd member was applied while another member was not back.
  readonly overlaps: string[] = [];
  leader = '';
  restartMs = 3_000;
  // Called on every dispatch, before it acts (tests pause, abort or kill here).
  onDispatch?: (req: DispatchRequest) => void | Promise<void>;

  constructor(readonly clock: FakeClock) {}

  add(name: string, roles: string[], labels: Record<string, string> = {}, revision = 'v1', generation = 1): SimNode {
    const n: SimNode = { name, roles, labels, revision, generation, running: revision, restartAt: 0, raftIndex: 5_000 };
    this.nodes.set(name, n);
    if (roles.includes('etcd') && !this.leader) this.leader = name;
    return n;
  }

  // Every node's plan at a revision, as the rollout's input.
  plans(revision: string, only?: (n: SimNode) => boolean): RolloutNodeInput[] {
    return [...this.nodes.values()].map((n) => ({ name: n.name, roles: n.roles, labels: n.labels, revision: only && !only(n) ? n.revision : revision, plan: Buffer.from(only && !only(n) ? n.revision : revision) }));
  }

  // Records every node's current plan in the store as the controller would have, so a rollout's
  // plans come next (generation 2 over the nodes' 1).
  async seed(store: Store): Promise<void> {
    await store.savePlans([...this.nodes.values()].map((n) => ({ node: n.name, revision: n.revision, plan: Buffer.from(n.revision) })), this.clock.now());
  }

  applies(node?: string): ApplyCall[] {
    return this.calls.filter((c) => c.mode === 'apply' && (!node || c.node === node));
  }

  private pods(n: SimNode): boolean {
    return n.roles.includes('etcd') || n.roles.includes('control-plane');
  }

  private settle(n: SimNode): void {
    if (this.clock.now() >= n.restartAt) n.running = n.revision;
  }

  async dispatch(req: DispatchRequest): Promise<DispatchOutcome> {
    await this.onDispatch?.(req);
    const n = this.nodes.get(req.node)!;
    this.calls.push({ node: req.node, mode: req.mode, generation: req.generation, revision: req.revision, rollback: req.rollback, at: this.clock.now() });
    if (n.unreachable) return { status: 'unreachable', changed: 0, error: `${req.node} (127.0.0.1:1): connect ECONNREFUSED` };
    if (req.generation < n.generation && !req.rollback) return { status: 'failed', changed: 0, error: `STALE_GENERATION: plan generation ${req.generation} is older than generation ${n.generation}` };
    const planned = Buffer.from(req.plan).toString();
    if (req.mode === 'check') return planned === n.revision ? { status: 'converged', changed: 0 } : { status: 'would-change', changed: 0 };
    if (n.failApply) return { status: 'failed', changed: 0, error: n.failApply };
    if (n.revision === planned && n.generation === req.generation) this.doubles.push(req.node);
    if (n.roles.includes('etcd')) {
      for (const other of this.nodes.values()) {
        if (other === n || !other.roles.includes('etcd')) continue;
        this.settle(other);
        if (other.running !== other.revision) this.overlaps.push(`${req.node} applied while ${other.name} restarts`);
      }
    }
    const changed = n.revision === planned ? 0 : 1;
    n.revision = planned;
    n.generation = req.generation;
    if (changed && this.pods(n)) n.restartAt = this.clock.now() + this.restartMs;
    return { status: 'converged', changed };
  }

  async health(node: string): Promise<NodeHealth> {
    const n = this.nodes.get(node)!;
    if (n.unreachable) return { reachable: false, error: 'connect ECONNREFUSED', generation: 0, revision: '', probes: {} };
    this.settle(n);
    const up = n.running === n.revision;
    const probe = (name: string, down?: string): ProbeView => {
      const err = n.sick?.[name] ?? down;
      return { healthy: !err, message: err ? '' : 'ok', lastError: err ?? '', sinceMs: 0, details: {} };
    };
    const probes: Record<string, ProbeView> = {};
    if (n.roles.includes('etcd')) probes.etcd = probe('etcd', up ? undefined : 'GET https://127.0.0.1:2379/health: connect ECONNREFUSED');
    if (n.roles.includes('control-plane')) probes['kube-apiserver'] = probe('kube-apiserver', up ? undefined : 'GET /readyz: connect ECONNREFUSED');
    if (this.pods(n)) probes['static-pods'] = probe('static-pods');
    if (n.roles.includes('lb')) probes['kube-apiserver-vip'] = probe('kube-apiserver-vip');
    if (n.roles.includes('worker')) probes.kubelet = probe('kubelet');
    return {
      reachable: true,
      generation: n.generation,
      revision: n.revision,
      probes,
      etcd: n.roles.includes('etcd') && up ? { memberId: `id-${n.name}`, leaderId: `id-${this.leader}`, raftIndex: n.raftIndex } : undefined,
      staticPods: this.pods(n) ? { [n.roles.includes('etcd') ? 'etcd' : 'kube-apiserver']: { manifestHash: n.revision, runningHash: n.running } } : undefined,
    };
  }
}

// A store in a temp state folder, removed by the test's after hook.
export function tempStore(t: { after(fn: () => void): void }): { store: SqliteStore; dir: string; reopen(): SqliteStore } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muster-rollout-'));
  const opened: SqliteStore[] = [];
  const open = () => {
    const s = openStore(dir);
    opened.push(s);
    return s;
  };
  t.after(() => {
    for (const s of opened) s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { store: open(), dir, reopen: open };
}

// A store that dies at its k-th write (journal, history, rollout update, wait) as a process
// killed there would: that write and every later call throw.
export function dyingStore(inner: Store, k: number): Store & { writes: number; dead: boolean } {
  const writes = new Set(['journal', 'record', 'updateRollout', 'setWait', 'clearWait', 'createRollout', 'savePlans']);
  const state = { writes: 0, dead: false };
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'writes') return state.writes;
      if (prop === 'dead') return state.dead;
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function' || prop === 'close') return v;
      return (...args: unknown[]) => {
        if (state.dead) return Promise.reject(new Error('killed'));
        if (writes.has(String(prop)) && ++state.writes === k) {
          state.dead = true;
          return Promise.reject(new Error(`killed at write ${k} (${String(prop)})`));
        }
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as Store & { writes: number; dead: boolean };
}
