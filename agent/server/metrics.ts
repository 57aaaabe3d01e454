import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { registerBuildInfo } from '../../common/build-info.js';
import { registerProcessMetrics } from '../../common/process-metrics.js';
import { ApplyMode, ProbeState, TaskStatus, type ApplySummary, type DriftEvent, type NodeStatus, type TaskResult } from '../../proto/gen/muster/agent/v1/agent.js';

const PROBE_STATES: [ProbeState, string][] = [
  [ProbeState.PROBE_STATE_HEALTHY, 'healthy'],
  [ProbeState.PROBE_STATE_DEGRADED, 'degraded'],
  [ProbeState.PROBE_STATE_FAILED, 'failed'],
];

// One registry per agent instance: a process may host many agents. Gauges read the node's
// status when scraped, so nothing is computed between scrapes.
export class AgentMetrics {
  readonly registry = new Registry();
  private readonly tasks = new Counter({ name: 'muster_agent_tasks_total', help: 'Task results by kind and status.', labelNames: ['kind', 'status'], registers: [this.registry] });
  private readonly durations = new Histogram({
    name: 'muster_agent_task_duration_seconds',
    help: 'Task durations by kind.',
    labelNames: ['kind'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });
  private readonly applies = new Counter({ name: 'muster_agent_applies_total', help: 'Plan runs by mode and outcome.', labelNames: ['mode', 'outcome'], registers: [this.registry] });
  private readonly drifts = new Counter({ name: 'muster_agent_drift_events_total', help: 'Outside changes to managed paths, by whether they were repaired.', labelNames: ['repaired'], registers: [this.registry] });
  private readonly repairSeconds = new Histogram({
    name: 'muster_agent_drift_repair_seconds',
    help: 'From the file event to the restored, fsynced file.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  constructor(status: () => NodeStatus) {
    const registers = [this.registry];
    registerBuildInfo(this.registry, 'musterd');
    registerProcessMetrics(this.registry);
    new Gauge({
      name: 'muster_agent_plan_revision_info',
      help: 'The revision of the last applied plan (value 1).',
      labelNames: ['revision'],
      registers,
      collect() {
        this.reset();
        const r = status().revision;
        if (r) this.set({ revision: r }, 1);
      },
    });
    new Gauge({
      name: 'muster_agent_probe_state',
      help: 'Each probe\'s state: 1 on the series of its current state (healthy, degraded, failed), 0 on the others.',
      labelNames: ['probe', 'state'],
      registers,
      collect() {
        this.reset();
        for (const p of status().probes) {
          const now = p.state || ProbeState.PROBE_STATE_FAILED;
          for (const [state, label] of PROBE_STATES) this.set({ probe: p.name, state: label }, state === now ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'muster_agent_certificate_expiry_timestamp_seconds',
      help: 'When each managed certificate expires (Unix time, seconds).',
      labelNames: ['path'],
      registers,
      collect() {
        this.reset();
        for (const c of status().certificates) this.set({ path: c.path }, c.notAfterMs / 1000);
      },
    });
    new Gauge({
      name: 'muster_agent_ready',
      help: '1 when converged to the last plan with every probe healthy.',
      registers,
      collect() {
        this.set(status().ready ? 1 : 0);
      },
    });
  }

  task(r: TaskResult): void {
    const status = TaskStatus[r.status].replace('TASK_STATUS_', '').toLowerCase().replace('_', '-');
    this.tasks.inc({ kind: r.kind, status });
    this.durations.observe({ kind: r.kind }, r.durationUs / 1e6);
  }

  summary(s: ApplySummary): void {
    const mode = s.mode === ApplyMode.APPLY_MODE_CHECK ? 'check' : 'apply';
    this.applies.inc({ mode, outcome: s.failed ? 'failed' : s.changed || s.wouldChange ? 'changed' : 'ok' });
  }

  drift(e: DriftEvent): void {
    this.drifts.inc({ repaired: String(e.repaired) });
    if (e.repairUs) this.repairSeconds.observe(e.repairUs / 1e6);
  }
}
