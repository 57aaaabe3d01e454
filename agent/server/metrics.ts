import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ApplyMode, TaskStatus, type ApplySummary, type TaskResult } from '../../proto/gen/muster/agent/v1/agent.js';

// One registry per agent instance: a process may host many agents.
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
  private readonly revision = new Gauge({ name: 'muster_agent_plan_revision_info', help: 'The revision of the last applied plan (value 1).', labelNames: ['revision'], registers: [this.registry] });

  task(r: TaskResult): void {
    const status = TaskStatus[r.status].replace('TASK_STATUS_', '').toLowerCase().replace('_', '-');
    this.tasks.inc({ kind: r.kind, status });
    this.durations.observe({ kind: r.kind }, r.durationUs / 1e6);
  }

  // summary counts a run (when given) and sets the revision the node is at.
  summary(s: ApplySummary | undefined, revision: string): void {
    if (s) {
      const mode = s.mode === ApplyMode.APPLY_MODE_CHECK ? 'check' : 'apply';
      this.applies.inc({ mode, outcome: s.failed ? 'failed' : s.changed || s.wouldChange ? 'changed' : 'ok' });
    }
    this.revision.reset();
    if (revision) this.revision.set({ revision }, 1);
  }
}
