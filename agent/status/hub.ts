import { X509Certificate } from 'node:crypto';
import {
  DriftPolicy,
  NodeStatus,
  ProbeState,
  type CertificateStatus,
  type DriftEvent,
  type MountStatus,
  type Plan,
  type WatchStatusResponse,
} from '../../proto/gen/muster/agent/v1/agent.js';
import { VERSION } from '../../common/version.js';
import type { Engine } from '../engine/engine.js';
import type { ProbeRunner } from '../probes/probes.js';

export type Listener = (event: WatchStatusResponse) => void;

// Every managed certificate of a plan and the days it has left.
export function certificatesOf(plan: Plan | undefined, now = Date.now()): CertificateStatus[] {
  const out: CertificateStatus[] = [];
  for (const t of plan?.tasks ?? []) {
    if (!t.certificate?.certPem) continue;
    try {
      const c = new X509Certificate(t.certificate.certPem);
      const notAfter = Date.parse(c.validTo);
      out.push({ path: t.certificate.certPath, subject: c.subject.replace(/\n/g, ', '), notAfterMs: notAfter, daysLeft: Math.floor((notAfter - now) / 86_400_000) });
    } catch {
      // validation refused such a plan; nothing to report
    }
  }
  return out;
}

// The node's status in one place: what GetStatus answers, what WatchStatus streams and what
// /status, /readyz and /metrics show.
export class StatusHub {
  private readonly listeners = new Map<Listener, () => void>();
  private last = '';
  private certs: { revision: string; list: CertificateStatus[] } = { revision: '', list: [] };
  driftDetected = 0;
  driftRepaired = 0;
  lastDrift?: DriftEvent;
  mounts: MountStatus[] = [];
  // the revision the start-up reconcile is replaying, while it runs
  converging?: string;

  constructor(
    private readonly name: string,
    private readonly engine: Engine,
    private readonly probes: ProbeRunner,
    private readonly startedAtMs: number,
    private readonly serving: () => boolean,
  ) {}

  current(): NodeStatus {
    const s = this.engine.status;
    if (this.certs.revision !== s.revision) this.certs = { revision: s.revision, list: certificatesOf(s.plan) };
    const probes = this.probes.statuses();
    const reason = notReadyReason(this.serving(), s.lastResult, probes, this.converging);
    return NodeStatus.fromPartial({
      node: this.name,
      agentVersion: VERSION,
      revision: s.revision,
      lastResult: s.lastResult,
      appliedAtMs: s.appliedAtMs,
      startedAtMs: this.startedAtMs,
      ready: !reason,
      notReadyReason: reason ?? '',
      probes,
      certificates: this.certs.list,
      driftPolicy: s.plan?.driftPolicy || DriftPolicy.DRIFT_POLICY_ENFORCE,
      driftDetected: this.driftDetected,
      driftRepaired: this.driftRepaired,
      lastDrift: this.lastDrift,
      mounts: this.mounts,
      generation: this.engine.state.generation,
    });
  }

  // end is called when the agent stops, so streams close and the server can shut down.
  subscribe(listener: Listener, end: () => void = () => {}): () => void {
    this.listeners.set(listener, end);
    listener({ status: this.current() });
    return () => this.listeners.delete(listener);
  }

  close(): void {
    for (const end of this.listeners.values()) end();
    this.listeners.clear();
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  drift(event: DriftEvent): void {
    this.driftDetected++;
    if (event.repaired) this.driftRepaired++;
    this.lastDrift = event;
    for (const l of this.listeners.keys()) l({ drift: event });
    this.changed();
  }

  // Tells subscribers when something they would see has changed (check times aside).
  changed(): void {
    const status = this.current();
    const key = JSON.stringify(NodeStatus.toJSON({ ...status, probes: status.probes.map((p) => ({ ...p, checkedAtMs: 0 })) }));
    if (key === this.last) return;
    this.last = key;
    for (const l of this.listeners.keys()) l({ status });
  }
}

// Why the node is not ready, or undefined when it is: serving, converged, probes healthy.
export function notReadyReason(serving: boolean, last: NodeStatus['lastResult'], probes: NodeStatus['probes'], converging?: string): string | undefined {
  if (!serving) return 'the gRPC server is not serving';
  if (converging !== undefined) return `converging: the start-up reconcile of revision ${converging} is running`;
  if (last && !last.converged) {
    return last.failedTask ? `the last apply (revision ${last.revision}) failed at task ${last.failedTask}` : `the last apply (revision ${last.revision}) did not converge`;
  }
  const bad = probes.filter((p) => p.state !== ProbeState.PROBE_STATE_HEALTHY);
  if (bad.length) {
    return bad.map((p) => `probe ${p.name} ${ProbeState[p.state].replace('PROBE_STATE_', '').toLowerCase()} since ${new Date(Number(p.sinceMs)).toISOString()}: ${p.lastError || p.message}`).join('; ');
  }
  return undefined;
}
