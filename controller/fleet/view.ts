import { DriftPolicy, NodeStatus, ProbeState } from '../../proto/gen/muster/agent/v1/agent.js';
import type { InventoryNode } from '../inputs/inventory.js';

// What the controller knows of one node: its last status, or why it cannot be reached and since when.
export interface NodeView {
  node: InventoryNode;
  status?: NodeStatus;
  error?: string;
  errorSinceMs?: number;
  updatedAtMs: number;
}

const stateWord = (s: ProbeState) => ProbeState[s]?.replace('PROBE_STATE_', '').toLowerCase() ?? 'unknown';
const iso = (ms: number | undefined) => (ms ? new Date(Number(ms)).toISOString().replace(/\.\d+Z$/, 'Z') : '-');

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

// The detail a person acts on: which node, which probe, the last error and since when.
export function detailCell(v: NodeView): string {
  if (v.error) return `unreachable since ${iso(v.errorSinceMs)}: ${v.error}`;
  const s = v.status!;
  const bad = s.probes.filter((p) => p.state !== ProbeState.PROBE_STATE_HEALTHY);
  if (bad.length) return bad.map((p) => `${p.name} ${stateWord(p.state)} since ${iso(Number(p.sinceMs))}: ${p.lastError || p.message}`).join('; ');
  if (!s.ready) return s.notReadyReason;
  if (s.lastDrift) return `last drift ${iso(Number(s.lastDrift.atMs))}: ${s.lastDrift.path} ${s.lastDrift.what}${s.lastDrift.repaired ? ', repaired' : ''}`;
  return '';
}

export function lastApplyCell(s: NodeStatus): string {
  const last = s.lastResult;
  if (!last) return 'never';
  return `${last.converged ? 'converged' : `failed at ${last.failedTask || '?'}`} ${iso(Number(s.appliedAtMs))}`;
}

export function viewRow(v: NodeView): string[] {
  const s = v.status;
  return [
    v.node.name,
    v.node.roles.join(','),
    v.error ? 'NO' : 'yes',
    s?.revision || '-',
    s ? lastApplyCell(s) : '-',
    s ? (s.ready ? 'yes' : 'no') : '-',
    s ? probesCell(s) : '-',
    s ? driftCell(s) : '-',
    s ? certCell(s) : '-',
    detailCell(v),
  ];
}

export const VIEW_HEADERS = ['NODE', 'ROLES', 'REACHABLE', 'REVISION', 'LAST APPLY', 'READY', 'PROBES', 'DRIFT', 'SOONEST CERT', 'DETAIL'];

export function viewJson(v: NodeView) {
  return { node: v.node.name, roles: v.node.roles, reachable: !v.error, error: v.error, errorSince: v.errorSinceMs ? new Date(v.errorSinceMs).toISOString() : undefined, status: v.status ? NodeStatus.toJSON(v.status) : undefined };
}
