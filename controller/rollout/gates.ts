import { ControllerError } from '../errors.js';
import type { NodeHealth } from './ports.js';

// Health gates, the etcd quorum guard and the error budget: pure functions of what the
// agents report.

export interface GateCheck {
  ok: boolean;
  // The probe the gate waits on (or 'agent' for reachability and generation).
  probe: string;
  error: string;
}

export interface GateContext {
  // The generation the node must report as applied.
  generation: number;
  // The etcd leader's raft index, for members; undefined when no leader is seen.
  leaderRaftIndex?: number;
  raftLag: number;
}

const pass: GateCheck = { ok: true, probe: '', error: '' };
const fail = (probe: string, error: string): GateCheck => ({ ok: false, probe, error });

function probe(h: NodeHealth, name: string, required: boolean): GateCheck {
  const p = h.probes[name];
  if (!p) return required ? fail(name, `the agent reports no ${name} probe`) : pass;
  return p.healthy ? pass : fail(name, p.lastError || p.message || 'unhealthy');
}

// Every static pod runs the manifest the agent wrote: right after the write the old process
// still answers healthy, so the gate waits for the kubelet to restart it (kubeadm waits for the
// static pod hash to change the same way).
function restarted(h: NodeHealth, required: boolean): GateCheck {
  if (!h.staticPods) return required ? fail('static-pods', 'the agent does not report the running pods\' config hashes') : pass;
  for (const [pod, v] of Object.entries(h.staticPods).sort(([a], [b]) => a.localeCompare(b))) {
    // No running hash at all: the probe's message says why (no pod, or crictl missing).
    if (!v.runningHash) return fail('static-pods', `${pod}: no running pod seen for manifest ${v.manifestHash}: ${h.probes['static-pods']?.message || 'no static-pods probe'}`);
    if (v.runningHash !== v.manifestHash) return fail('static-pods', `${pod}: the running pod has config hash ${v.runningHash}, the manifest ${v.manifestHash}: not restarted yet`);
  }
  return pass;
}

// The gate of a node: every check of every role it holds, the first failing one reported.
export function checkGate(roles: readonly string[], h: NodeHealth, ctx: GateContext): GateCheck {
  if (!h.reachable) return fail('agent', h.error || 'unreachable');
  if (ctx.generation && h.generation !== ctx.generation) return fail('agent', `applied generation ${h.generation}, waiting for ${ctx.generation}`);
  const pods = roles.includes('etcd') || roles.includes('control-plane');
  const checks: (() => GateCheck)[] = [() => restarted(h, pods)];
  if (roles.includes('etcd')) {
    checks.push(() => probe(h, 'etcd', true), () => raft(h, ctx));
  }
  if (roles.includes('control-plane')) checks.push(() => probe(h, 'kube-apiserver', true), () => probe(h, 'static-pods', true));
  if (roles.includes('lb')) checks.push(() => probe(h, 'kube-apiserver-vip', true));
  if (roles.includes('worker')) checks.push(() => probe(h, 'kubelet', true), () => probe(h, 'static-pods', false), () => probe(h, 'mounts', false));
  for (const c of checks) {
    const r = c();
    if (!r.ok) return r;
  }
  return pass;
}

function raft(h: NodeHealth, ctx: GateContext): GateCheck {
  if (!h.etcd) return fail('etcd', 'the etcd probe reports no member status');
  if (ctx.leaderRaftIndex === undefined) return fail('etcd', 'no etcd leader seen');
  const behind = ctx.leaderRaftIndex - h.etcd.raftIndex;
  if (behind > ctx.raftLag) return fail('etcd', `raft index ${h.etcd.raftIndex} is ${behind} behind the leader's ${ctx.leaderRaftIndex} (bound ${ctx.raftLag})`);
  return pass;
}

// The leader as the healthy members see it: the node whose member id is their leader id.
export function etcdLeader(members: ReadonlyMap<string, NodeHealth>): { node: string; raftIndex: number } | undefined {
  const leaderIds = new Set([...members.values()].filter((h) => h.reachable && h.etcd && h.probes.etcd?.healthy).map((h) => h.etcd!.leaderId));
  for (const [node, h] of members) {
    if (h.etcd && leaderIds.has(h.etcd.memberId)) return { node, raftIndex: h.etcd.raftIndex };
  }
  return undefined;
}

// Before an etcd member changes: every other member healthy and the cluster able to lose one.
// Returns why not, or undefined when it is safe.
export function quorumGuard(member: string, members: ReadonlyMap<string, NodeHealth>): string | undefined {
  const n = members.size;
  const quorum = Math.floor(n / 2) + 1;
  if (n - 1 < quorum) return `etcd has ${n} member(s) and needs ${quorum} for quorum: it cannot lose ${member} even for a restart`;
  for (const [node, h] of [...members].sort(([a], [b]) => a.localeCompare(b))) {
    if (node === member) continue;
    if (!h.reachable) return `etcd member ${node} is unreachable (${h.error || 'no answer'}): changing ${member} could lose quorum`;
    const p = h.probes.etcd;
    if (!p?.healthy) return `etcd member ${node} is not healthy (${p ? p.lastError || p.message : 'no etcd probe'}): changing ${member} could lose quorum`;
  }
  return undefined;
}

// --max-failed N or N%: how many nodes may fail over the whole rollout (never per batch).
export function failureBudget(text: string | undefined, total: number): number {
  if (text === undefined || text === '') return 0;
  const m = /^(\d+)(%?)$/.exec(text.trim());
  if (!m) throw new ControllerError('ROLLOUT_INVALID', `--max-failed "${text}": give a number of nodes or a percentage`);
  const n = Number(m[1]);
  if (!m[2]) return n;
  if (n > 100) throw new ControllerError('ROLLOUT_INVALID', `--max-failed "${text}": more than 100%`);
  return Math.floor((total * n) / 100);
}
