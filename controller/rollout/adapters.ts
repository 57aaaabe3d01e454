import { ProbeState, type ApplySummary, type NodeStatus, type TaskResult } from '../../proto/gen/muster/agent/v1/agent.js';
import type { DispatchOutcome, NodeHealth, StaticPodView } from './ports.js';

// From what agents send (an Apply's summary, a NodeStatus from the status stream) to the
// runner's ports, so the app layer's Dispatcher and HealthSource are a few lines of wiring.

// The static-pods probe's details that carry restart detection, per pod:
// "<pod>.manifest-hash" (sha256 of the manifest the agent wrote) and "<pod>.running-hash" (the
// same hash of the manifest the running pod was started from, as the kubelet reports it).
export const MANIFEST_HASH_SUFFIX = '.manifest-hash';
export const RUNNING_HASH_SUFFIX = '.running-hash';

export interface AgentApplyResult {
  summary?: ApplySummary;
  results?: TaskResult[];
  // Set when the call failed: "unreachable (...)", "no answer before the deadline", or the status.
  error?: string;
  // The failed call's gRPC status code, when known.
  grpcCode?: number;
}

// gRPC status codes meaning no answer: UNAVAILABLE and DEADLINE_EXCEEDED.
const NO_ANSWER = new Set([14, 4]);

export function outcomeOf(r: AgentApplyResult): DispatchOutcome {
  if (r.error) {
    const unreachable = r.grpcCode !== undefined ? NO_ANSWER.has(r.grpcCode) : r.error.startsWith('unreachable') || r.error.startsWith('no answer before the deadline');
    return { status: unreachable ? 'unreachable' : 'failed', changed: 0, error: r.error };
  }
  const s = r.summary;
  if (!s) return { status: 'failed', changed: 0, error: 'the agent sent no summary' };
  if (s.failed || s.skipped) {
    const t = r.results?.find((x) => x.id === s.failedTask);
    return { status: 'failed', changed: s.changed, error: t ? `task ${t.id}: ${t.errorCode}: ${t.errorMessage}` : `task ${s.failedTask || '?'} failed` };
  }
  if (s.wouldChange) return { status: 'would-change', changed: 0 };
  return { status: 'converged', changed: s.changed };
}

export function healthOf(status: NodeStatus | undefined, error?: string): NodeHealth {
  if (!status) return { reachable: false, error: error ?? 'no status from the agent yet', generation: 0, revision: '', probes: {} };
  const probes: NodeHealth['probes'] = {};
  for (const p of status.probes) {
    probes[p.name] = { healthy: p.state === ProbeState.PROBE_STATE_HEALTHY, message: p.message, lastError: p.state === ProbeState.PROBE_STATE_HEALTHY ? '' : p.lastError || p.message, sinceMs: p.sinceMs, details: { ...p.details } };
  }
  const e = probes.etcd?.details;
  const etcd = e?.member_id && e.raft_index ? { memberId: e.member_id, leaderId: e.leader ?? '', raftIndex: Number(e.raft_index) } : undefined;
  let staticPods: Record<string, StaticPodView> | undefined;
  for (const [key, value] of Object.entries(probes['static-pods']?.details ?? {})) {
    if (!key.endsWith(MANIFEST_HASH_SUFFIX)) continue;
    const pod = key.slice(0, -MANIFEST_HASH_SUFFIX.length);
    (staticPods ??= {})[pod] = { manifestHash: value, runningHash: probes['static-pods']!.details[pod + RUNNING_HASH_SUFFIX] ?? '' };
  }
  return { reachable: true, generation: status.generation, revision: status.revision, probes, etcd, staticPods };
}
