import os from 'node:os';
import path from 'node:path';
import { ControllerError } from '../errors.js';
import type { Leadership, LeaderInfo } from '../ha/leadership.js';
import type { RolloutOptions } from '../rollout/runner.js';
import type { WavePlan } from '../rollout/waves.js';
import type { ApplyOutcome } from '../fleet/client.js';
import type { Operator, RolloutRecord } from '../store/store.js';
import type { AppContext } from './context.js';
import { Jobs, type Job } from './jobs.js';
import { beginResume, previewRollout, startRollout } from './rollout.js';
import { apply, summaryOf } from './run.js';

// What a client asks muster serve to run. The spec files are read by the controller, from its
// own file system; the inventory and state folder are the controller's.
export interface RunRequest {
  cluster?: string;
  tasks?: string;
  limit?: string;
  concurrency?: number;
  // Seconds, for each node.
  timeout?: number;
}

export interface RolloutRequest extends RunRequest {
  options?: RolloutOptions;
  // Only the preview: the plans checked on every agent and the waves; nothing kept or sent.
  dryRun?: boolean;
}

// A rollout job's result: its preview (what `muster rollout` prints first) and how it ended.
export interface RolloutResult {
  outcomes: ApplyOutcome[];
  waves: WavePlan;
  rollout?: RolloutRecord;
}

// Refused on a follower: names the leader so the caller can go there.
export class NotLeaderError extends ControllerError {
  constructor(readonly leader: LeaderInfo | undefined) {
    super('NOT_LEADER', leader ? `this controller follows; the leader is ${leader.id}${leader.url ? ` at ${leader.url}` : ''}` : 'this controller follows and no leader is elected right now: retry in a few seconds');
  }
}

export interface ServiceOptions {
  state: string;
  inventory: string;
  ctx: AppContext;
  leadership: Leadership;
  jobs: Jobs;
}

// muster serve's use cases: applies and rollouts as jobs on the app layer, leader only.
export class ControllerService {
  constructor(private readonly o: ServiceOptions) {}

  job(id: string): Job | undefined {
    return this.o.jobs.get(id);
  }

  async apply(req: RunRequest, operator: Operator): Promise<Job> {
    await this.mustLead();
    return this.o.jobs.start('apply', operator, async () => summaryOf(await apply({ ...this.run(req), operator }, this.o.ctx)));
  }

  async rollout(req: RolloutRequest, operator: Operator): Promise<Job> {
    await this.mustLead();
    if (req.options?.hooks) throw new ControllerError('ROLLOUT_INVALID', 'hooks run on the controller host as shell commands: give them to muster serve\'s own operator (the CLI in-process), not through the API');
    return this.o.jobs.start('rollout', operator, async (job) => {
      const p = await previewRollout({ ...this.run(req), rollout: req.options ?? {}, dryRun: req.dryRun }, this.o.ctx);
      const result: RolloutResult = { outcomes: p.outcomes, waves: p.waves };
      if (req.dryRun || !p.waves.waves.some((w) => w.nodes.length)) return result;
      const rollout = await startRollout(p, { rollout: req.options ?? {}, operator, leading: this.leading, onEntry: (e) => this.named(job, e.rolloutId) });
      return { ...result, rollout };
    });
  }

  // Resume answers once the rollout runs again; the job drives it on.
  async resume(id: string | undefined, operator: Operator): Promise<{ record: RolloutRecord; job: Job }> {
    await this.mustLead();
    let running!: (r: RolloutRecord) => void;
    let refused!: (err: unknown) => void;
    const reopened = new Promise<RolloutRecord>((resolve, reject) => ((running = resolve), (refused = reject)));
    // The job is registered before the lock is taken: two resumes at once cannot both take it.
    const job = this.o.jobs.start('resume', operator, async (j) => {
      const begun = await beginResume({ state: this.o.state, inventory: this.o.inventory, timeoutMs: this.timeoutMs({}), id, operator, leading: this.leading }, this.o.ctx).catch((err: unknown) => {
        refused(err);
        throw err;
      });
      this.named(j, begun.record.id);
      running(begun.record);
      return { rollout: await begun.done };
    });
    return { record: await reopened, job };
  }

  // On becoming the leader: every rollout left running with no runner is taken up from its
  // journal, under the rules of `muster rollout resume` (the lock refuses one still driven).
  async takeOver(log?: (msg: string) => void): Promise<void> {
    const running = (await this.o.ctx.store.rollouts(100)).filter((r) => r.state === 'running');
    for (const r of running) {
      try {
        const { job } = await this.resume(r.id, { user: 'muster serve (new leader)', host: os.hostname() });
        log?.(`took over rollout ${r.id} (job ${job.id})`);
      } catch (err) {
        log?.(`rollout ${r.id} is running and not taken over: ${(err as Error).message}`);
      }
    }
  }

  private readonly leading = () => this.o.leadership.isLeader();

  private named(job: Job, rolloutId: string): void {
    if (job.rolloutId) return;
    job.rolloutId = rolloutId;
    this.o.jobs.changed(job);
  }

  private async mustLead(): Promise<void> {
    if (!this.o.leadership.isLeader()) throw new NotLeaderError(await this.o.leadership.leader());
  }

  private timeoutMs(req: RunRequest): number {
    return (req.timeout ?? 300) * 1000;
  }

  private run(req: RunRequest) {
    const file = (f?: string) => (f === undefined ? undefined : path.resolve(f));
    return { state: this.o.state, inventory: this.o.inventory, cluster: file(req.cluster), tasks: file(req.tasks), limit: req.limit, concurrency: req.concurrency ?? 64, timeoutMs: this.timeoutMs(req) };
  }
}
