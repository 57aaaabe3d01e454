import fss from 'node:fs';
import fs from 'node:fs/promises';
import { ApplySummary, Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import type { Host } from '../host/host.js';
import { writeFileAtomic } from '../host/host.js';

export interface AgentState {
  plan?: Plan;
  revision: string;
  appliedAtMs: number;
  lastResult?: ApplySummary;
}

interface Meta {
  revision: string;
  appliedAtMs: number;
  lastResult?: unknown;
  // generation of the last plan applied with one (ApplyRequest.generation); 0 when none.
  generation?: number;
}

// The last applied plan lives in the state folder, so the agent can keep its node
// converged while the controller is away; the one before it stays beside it (plan.previous.pb)
// for an operator or an undo to look at. Plans hold keys: 0600, folder 0700.
export class StateStore {
  private meta: Meta = { revision: '', appliedAtMs: 0 };
  // What plan.pb holds, as last read or written here.
  private planBytes?: Buffer;

  constructor(private readonly host: Host) {}

  // The generation the agent last applied; a lower one is refused unless it is a rollback.
  get generation(): number {
    return this.meta.generation ?? 0;
  }

  async load(): Promise<AgentState> {
    const empty: AgentState = { revision: '', appliedAtMs: 0 };
    try {
      this.meta = JSON.parse(await fs.readFile(this.host.statePath('status.json'), 'utf8')) as Meta;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return empty;
      throw err;
    }
    const plan = await this.readPlan('plan.pb');
    return {
      plan,
      revision: this.meta.revision,
      appliedAtMs: this.meta.appliedAtMs,
      lastResult: this.meta.lastResult ? ApplySummary.fromJSON(this.meta.lastResult) : undefined,
    };
  }

  // The plan applied before the current one, if any.
  previousPlan(): Promise<Plan | undefined> {
    return this.readPlan('plan.previous.pb');
  }

  // generation (ApplyRequest.generation, 0 when none) goes into the same status.json write.
  async save(state: AgentState, generation = 0): Promise<void> {
    const file = this.host.statePath('plan.pb');
    const bytes = state.plan && Buffer.from(Plan.encode(state.plan).finish());
    // The same plan again (every no-op re-run) is on disk already: rewriting it costs two fsyncs.
    if (bytes && !(this.planBytes?.equals(bytes) && sizeOf(file) === bytes.length)) {
      // A new revision pushes the current plan to plan.previous.pb; the same one again does not.
      if (this.meta.revision && this.meta.revision !== state.plan!.revision) {
        // Copied, not renamed: a crash before the new plan lands still leaves plan.pb in place.
        const current = await fs.readFile(file).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return undefined;
          throw err;
        });
        if (current) await this.write('plan.previous.pb', current);
      }
      await this.write('plan.pb', bytes);
      this.planBytes = bytes;
    }
    this.meta = {
      revision: state.revision,
      appliedAtMs: state.appliedAtMs,
      lastResult: state.lastResult ? ApplySummary.toJSON(state.lastResult) : undefined,
      generation: generation || this.meta.generation,
    };
    await this.writeMeta();
  }

  // Records the generation of the plan just applied (after the engine saved that plan).
  async setGeneration(generation: number): Promise<void> {
    if (generation === this.generation) return;
    this.meta = { ...this.meta, generation };
    await this.writeMeta();
  }

  private writeMeta(): Promise<void> {
    return this.write('status.json', Buffer.from(JSON.stringify(this.meta, null, 2) + '\n'));
  }

  // The folder is made 0700 only when missing (the first save, or removed since).
  private write(name: string, bytes: Buffer): Promise<void> {
    return writeFileAtomic(this.host.statePath(name), bytes, { mode: 0o600, dirMode: 0o700 });
  }

  private async readPlan(name: string): Promise<Plan | undefined> {
    try {
      const bytes = await fs.readFile(this.host.statePath(name));
      const plan = Plan.decode(bytes);
      if (name === 'plan.pb') this.planBytes = bytes;
      return plan;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      return undefined;
    }
  }
}

// Synchronous: a thread-pool round trip for one stat cost more than the stat (every no-op re-run).
function sizeOf(file: string): number | undefined {
  try {
    return fss.statSync(file).size;
  } catch {
    return undefined;
  }
}
