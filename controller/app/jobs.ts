import { randomBytes } from 'node:crypto';
import { ControllerError, type ControllerErrorCode } from '../errors.js';
import type { Operator } from '../store/store.js';
import type { ControllerEvents } from './events.js';

export type JobKind = 'apply' | 'rollout' | 'resume';

// What GET /v1/jobs/:id answers: a job muster serve runs on the app layer.
export interface Job {
  id: string;
  kind: JobKind;
  state: 'running' | 'done' | 'failed';
  operator: Operator;
  startedAtMs: number;
  endedAtMs?: number;
  // The rollout the job drives, once it has one.
  rolloutId?: string;
  // What the use case returned (a run summary, a rollout record).
  result?: unknown;
  error?: { error: ControllerErrorCode; message: string };
}

const KEEP_FINISHED = 200;

// The jobs of one controller. Only one that dispatches runs at a time: the rollout lock is
// per process, so two jobs of the same serve must not both take it.
export class Jobs {
  private readonly jobs = new Map<string, Job>();
  private readonly ends = new Set<Promise<unknown>>();

  constructor(private readonly events?: ControllerEvents) {}

  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  running(): Job | undefined {
    return [...this.jobs.values()].find((j) => j.state === 'running');
  }

  // Starts fn as a job, refused (ROLLOUT_LOCKED) while another runs.
  start(kind: JobKind, operator: Operator, fn: (job: Job) => Promise<unknown>): Job {
    const busy = this.running();
    if (busy) throw new ControllerError('ROLLOUT_LOCKED', `this controller is running job ${busy.id} (${busy.kind}${busy.rolloutId ? ` of rollout ${busy.rolloutId}` : ''}) for ${busy.operator.user}, since ${new Date(busy.startedAtMs).toISOString()}: wait for it (GET /v1/jobs/${busy.id}), or pause the rollout`);
    const job: Job = { id: `${kind}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`, kind, state: 'running', operator, startedAtMs: Date.now() };
    this.jobs.set(job.id, job);
    this.changed(job);
    const end = Promise.resolve()
      .then(() => fn(job))
      .then(
        (result) => Object.assign(job, { state: 'done', result }),
        (err: unknown) => Object.assign(job, { state: 'failed', error: errorJson(err) }),
      )
      .then(() => {
        job.endedAtMs = Date.now();
        this.changed(job);
        this.prune();
      });
    this.ends.add(end);
    void end.finally(() => this.ends.delete(end));
    return job;
  }

  // Tells watchers; the job names its rollout as soon as it has one.
  changed(job: Job): void {
    this.events?.emit('job', job);
  }

  // Resolves once every job has ended (a clean stop).
  async idle(): Promise<void> {
    while (this.ends.size) await Promise.all([...this.ends]);
  }

  private prune(): void {
    const done = [...this.jobs.values()].filter((j) => j.state !== 'running');
    for (const j of done.slice(0, Math.max(0, done.length - KEEP_FINISHED))) this.jobs.delete(j.id);
  }
}

export function errorJson(err: unknown): { error: ControllerErrorCode; message: string } {
  if (err instanceof ControllerError) return { error: err.code, message: err.message };
  const e = err as Error & { problems?: unknown[] };
  if (e?.name === 'SpecError') return { error: 'SPEC_INVALID', message: e.message };
  return { error: 'INTERNAL', message: e?.message ?? String(err) };
}

