import { DriftPolicy, NodeStatus, ProbeState } from '../../proto/gen/muster/agent/v1/agent.js';
import type { InventoryNode } from '../inputs/inventory.js';
import { age } from './age.js';

export { age };

// What the controller knows of one node: its last status, or why it cannot be reached and since when.
export interface NodeView {
  node: InventoryNode;
  status?: NodeStatus;
  error?: string;
  errorSinceMs?: number;
  updatedAtMs: number;
}

const stateWord = (s: ProbeState) => ProbeState[s]?.replace('PROBE_STATE_', '').toLowerCase() ?? 'unknown';

export function probesCell(s: NodeStatus): string {
  if (!s.probes.length) return '-';
  const healthy = s.probes.filter((p) => p.state === ProbeState.PROBE_STATE_HEALTHY).length;
  return `${healthy}/${s.probes.length} healthy`;
}

export function driftCell(s: NodeStatus): string {
  if (!s.driftDetected) return '0';
  const policy = s.driftPolicy === DriftPolicy.DRIFT_POLICY_REPORT ? 'reported' : 'repaired';
  return `${s.driftPolicy === DriftPolicy.DRIFT_POLICY_REPORT ? s.driftDetected : s.driftRepaired} ${policy}`;
}

export function certCell(s: NodeStatus): string {
  if (!s.certificates.length) return '-';
  const soonest = [...s.certificates].sort((a, b) => a.daysLeft - b.daysLeft)[0];
  return `${soonest.daysLeft}d ${soonest.path.split('/').pop()}`;
}

// The detail a person acts on: which node, which probe, the last error and for how long.
export function detailCell(v: NodeView, now = Date.now()): string {
  if (v.error) return `unreachable for ${age(v.errorSinceMs, now)}: ${v.error}`;
  const s = v.status!;
  const bad = s.probes.filter((p) => p.state !== ProbeState.PROBE_STATE_HEALTHY);
  if (bad.length) return bad.map((p) => `${p.name} ${stateWord(p.state)} for ${age(Number(p.sinceMs), now)}: ${p.lastError || p.message}`).join('; ');
  if (!s.ready) return s.notReadyReason;
  if (s.lastDrift) return `last drift ${age(Number(s.lastDrift.atMs), now)} ago: ${s.lastDrift.path} ${s.lastDrift.what}${s.lastDrift.repaired ? ', repaired' : ''}`;
  return '';
}

export function lastApplyCell(s: NodeStatus): string {
  const last = s.lastResult;
  if (!last) return 'never';
  return last.converged ? 'converged' : `failed at ${last.failedTask || '?'}`;
}

const isoCell = (ms: number | undefined) => (ms ? new Date(Number(ms)).toISOString().replace(/\.\d+Z$/, 'Z') : '-');

export function viewRow(v: NodeView, now = Date.now(), wide = false): string[] {
  const s = v.status;
  return [
    v.node.name,
    v.node.roles.join(','),
    ...(wide ? [`${v.node.address}:${v.node.agentPort}`, Object.entries(v.node.labels).map(([k, x]) => `${k}=${x}`).join(',') || '-'] : []),
    v.error ? 'NO' : 'yes',
    s?.revision || '-',
    s ? lastApplyCell(s) : '-',
    s?.lastResult ? age(Number(s.appliedAtMs), now) : '-',
    ...(wide ? [s?.lastResult ? isoCell(Number(s.appliedAtMs)) : '-'] : []),
    s ? (s.ready ? 'yes' : 'no') : '-',
    s ? probesCell(s) : '-',
    s ? driftCell(s) : '-',
    s ? certCell(s) : '-',
    detailCell(v, now),
  ];
}

export const VIEW_HEADERS = ['NODE', 'ROLES', 'REACHABLE', 'REVISION', 'LAST APPLY', 'AGE', 'READY', 'PROBES', 'DRIFT', 'SOONEST CERT', 'DETAIL'];
export const WIDE_VIEW_HEADERS = ['NODE', 'ROLES', 'ADDRESS', 'LABELS', 'REACHABLE', 'REVISION', 'LAST APPLY', 'AGE', 'APPLIED AT', 'READY', 'PROBES', 'DRIFT', 'SOONEST CERT', 'DETAIL'];

export type NodeState = 'ready' | 'not-ready' | 'unreachable';

export function nodeState(v: NodeView): NodeState {
  if (v.error || !v.status) return 'unreachable';
  return v.status.ready ? 'ready' : 'not-ready';
}

const iso = (ms: number | undefined) => (ms ? new Date(Number(ms)).toISOString() : undefined);

// The soonest-expiring managed certificate: the one an operator renews first.
export function soonestCertificate(s: NodeStatus) {
  if (!s.certificates.length) return undefined;
  const c = s.certificates.reduce((a, b) => (b.notAfterMs < a.notAfterMs ? b : a));
  return { path: c.path, subject: c.subject, notAfter: iso(c.notAfterMs), daysLeft: c.daysLeft };
}

export function viewJson(v: NodeView) {
  const s = v.status;
  return {
    node: v.node.name,
    roles: v.node.roles,
    address: v.node.address,
    reachable: !v.error,
    error: v.error,
    errorSince: iso(v.errorSinceMs),
    appliedAt: s?.lastResult && Number(s.appliedAtMs) ? new Date(Number(s.appliedAtMs)).toISOString() : undefined,
    status: s ? NodeStatus.toJSON(s) : undefined,
    // Flat fields for the dashboard, so the page reads what the table shows without the proto.
    labels: v.node.labels,
    state: nodeState(v),
    updatedAt: iso(v.updatedAtMs),
    generation: s ? Number(s.generation) : undefined,
    revision: s?.revision || undefined,
    lastApply: s ? lastApplyCell(s) : undefined,
    notReadyReason: s && !s.ready ? s.notReadyReason : undefined,
    probes: (s?.probes ?? []).map((p) => ({ name: p.name, state: stateWord(p.state), message: p.message, lastError: p.lastError, since: iso(p.sinceMs) })),
    drift: s
      ? {
          policy: s.driftPolicy === DriftPolicy.DRIFT_POLICY_REPORT ? ('report' as const) : ('enforce' as const),
          detected: s.driftDetected,
          repaired: s.driftRepaired,
          last: s.lastDrift ? { path: s.lastDrift.path, what: s.lastDrift.what, repaired: s.lastDrift.repaired, error: s.lastDrift.error, at: iso(s.lastDrift.atMs) } : undefined,
        }
      : undefined,
    soonestCertificate: s ? soonestCertificate(s) : undefined,
  };
}

export type NodeJson = ReturnType<typeof viewJson>;
