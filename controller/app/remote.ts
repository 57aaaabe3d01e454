import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ApiError, ControllerClient } from '../api/client.js';
import { ControllerError } from '../errors.js';
import type { NodeView } from '../fleet/view.js';
import { fleetStore } from '../pki/fleet.js';
import type { RolloutStatus } from '../rollout/control.js';
import type { HistoryEntry, JournalEntry, OpenWait, RolloutRecord, RolloutState } from '../store/store.js';
import type { Job } from './jobs.js';
import { pickRollout } from './rollout.js';
import type { RolloutRequest, RolloutResult, RunRequest } from './service.js';
import type { RunSummary } from './run.js';

// The CLI's remote mode: the same use cases, run by muster serve through its API.
export interface RemoteOptions {
  controller: string;
  // The operator (or reader) certificate and key; the CA the controller's certificate chains to.
  cert?: string;
  key?: string;
  ca?: string;
  state: string;
}

const JOB_POLL_MS = 200;

// What a remote rollout or resume reports as it goes: its journal entries and open waits.
type Progress = { onEntry?: (e: JournalEntry) => void; onWait?: (w: OpenWait) => void };

export async function connectController(o: RemoteOptions): Promise<RemoteController> {
  if (!/^https:\/\/[^/]+\/?$/.test(o.controller)) throw new ControllerError('CONFIG_INVALID', `--controller ${o.controller}: give the controller's API as https://HOST:PORT`);
  if (!o.cert || !o.key) throw new ControllerError('NO_CREDENTIALS', `--controller needs --cert and --key (or cert: and key: in muster.yaml): an operator certificate from "muster certs issue --role operator NAME" on the controller`);
  const read = (file: string, what: string) => fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new ControllerError('NO_CREDENTIALS', `${what} ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  const caFile = o.ca ?? fleetStore(o.state).file('ca', 'crt');
  const [certPem, keyPem, caPem] = await Promise.all([read(o.cert, '--cert'), read(o.key, '--key'), read(caFile, o.ca ? '--ca' : `the fleet CA (give --ca) at`)]);
  return new RemoteController(new ControllerClient(o.controller.replace(/\/$/, ''), { certPem, keyPem, caPem }));
}

export class RemoteController {
  constructor(private client: ControllerClient) {}

  close(): void {
    this.client.close();
  }

  apply(req: RunRequest): Promise<RunSummary> {
    return this.leaderCall(async () => this.finish<RunSummary>((await this.client.post<{ job: Job }>('/v1/apply', absolute(req))).job));
  }

  // A rollout job; onStarted sees the job as soon as it runs (for its events).
  async rollout(req: RolloutRequest, progress: Progress = {}): Promise<RolloutResult> {
    return this.leaderCall(() => this.withProgress(progress, async (follow) => {
      const { job } = await this.client.post<{ job: Job }>('/v1/rollouts', absolute(req));
      follow.job(job.id);
      const result = await this.finish<RolloutResult>(job);
      // The job's end can be read before the last journal entries arrive: wait for its final state on the stream.
      if (result.rollout) await Promise.race([follow.ended, delay(2000)]);
      return result;
    }));
  }

  async resume(id: string | undefined, progress: Progress = {}): Promise<RolloutRecord> {
    const rid = await this.pick(id, ['running', 'paused']);
    return this.leaderCall(() => this.withProgress(progress, async (follow) => {
      follow.rollout(rid);
      await this.client.post<RolloutRecord>(`/v1/rollouts/${rid}/resume`);
      return follow.ended;
    }));
  }

  async control(id: string | undefined, action: 'pause' | 'abort', reason?: string): Promise<RolloutRecord> {
    const rid = await this.pick(id, action === 'pause' ? ['running'] : ['running', 'paused']);
    return this.client.post<RolloutRecord>(`/v1/rollouts/${rid}/${action}`, reason ? { reason } : {});
  }

  async status(id?: string): Promise<RolloutStatus> {
    return this.client.get<RolloutStatus>(`/v1/rollouts/${await this.pick(id)}`);
  }

  async history(o: { node?: string; limit?: number }): Promise<HistoryEntry[]> {
    const q = new URLSearchParams();
    if (o.limit) q.set('limit', String(o.limit));
    if (o.node) q.set('node', o.node);
    return (await this.client.get<{ entries: HistoryEntry[] }>(`/v1/history?${q}`)).entries;
  }

  async views(): Promise<NodeView[]> {
    return (await this.client.get<{ views: NodeView[] }>('/v1/fleet?format=views')).views;
  }

  // The rollout named, or the newest in one of the states: the rules of the in-process CLI.
  private pick(id: string | undefined, states?: RolloutState[]): Promise<string> {
    return pickRollout({
      rollout: async (rid) => (await this.client.get<RolloutStatus>(`/v1/rollouts/${encodeURIComponent(rid)}`).catch((e: ApiError) => (e.code === 'ROLLOUT_NOT_FOUND' ? undefined : Promise.reject(e))))?.rollout,
      rollouts: async (limit) => (await this.client.get<{ rollouts: RolloutRecord[] }>(`/v1/rollouts?limit=${limit ?? 100}`)).rollouts,
    }, id, states);
  }

  // A follower answers NOT_LEADER with the leader's URL: followed once.
  private async leaderCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== 'NOT_LEADER' || !err.leader?.url) throw err;
      const old = this.client;
      this.client = old.at(err.leader.url);
      old.close();
      return fn();
    }
  }

  private async finish<T>(job: Job): Promise<T> {
    for (let j = job; ; j = await this.client.get<Job>(`/v1/jobs/${job.id}`)) {
      if (j.state === 'done') return j.result as T;
      if (j.state === 'failed') throw new ControllerError(j.error?.error ?? 'INTERNAL', j.error?.message ?? `job ${j.id} failed`);
      await delay(JOB_POLL_MS);
    }
  }

  // Journal entries and waits of one rollout as they happen, named by its id or by the job that drives it.
  private async withProgress<T>(p: Progress, fn: (follow: { job(id: string): void; rollout(id: string): void; ended: Promise<RolloutRecord> }) => Promise<T>): Promise<T> {
    let rolloutId: string | undefined;
    let jobId: string | undefined;
    const early: { name: string; data: unknown }[] = [];
    let ended!: (r: RolloutRecord) => void;
    const end = new Promise<RolloutRecord>((resolve) => (ended = resolve));
    const deliver = (name: string, data: unknown) => {
      if (name === 'job' && (data as Job).id === jobId && (data as Job).rolloutId && !rolloutId) {
        rolloutId = (data as Job).rolloutId;
        for (const e of early.splice(0)) deliver(e.name, e.data);
        return;
      }
      const of = (data as { rolloutId?: string; id?: string }).rolloutId ?? (name === 'rollout' ? (data as RolloutRecord).id : undefined);
      if (!of) return;
      if (!rolloutId) return void early.push({ name, data });
      if (of !== rolloutId) return;
      if (name === 'journal') p.onEntry?.(data as JournalEntry);
      else if (name === 'wait') p.onWait?.(data as OpenWait);
      else if (name === 'rollout' && (data as RolloutRecord).state !== 'running') ended(data as RolloutRecord);
    };
    let lost: Error | undefined;
    const stream = this.client.events(deliver, (err) => (lost = err));
    try {
      await Promise.race([stream.opened, delay(10_000).then(() => Promise.reject(lost ?? new ControllerError('CONTROLLER_UNREACHABLE', 'GET /v1/events did not open within 10 s')))]);
      return await fn({ job: (id) => (jobId = id), rollout: (id) => (rolloutId = id), ended: end });
    } finally {
      stream.close();
    }
  }
}

// The controller reads the spec files from its own file system: send them as absolute paths.
function absolute<T extends RunRequest>(req: T): T {
  return { ...req, cluster: req.cluster && path.resolve(req.cluster), tasks: req.tasks && path.resolve(req.tasks) };
}
