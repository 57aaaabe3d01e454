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

// The last applied plan lives in the state folder, so the agent can keep its node
// converged while the controller is away. The plan holds keys: 0600, folder 0700.
export class StateStore {
  constructor(private readonly host: Host) {}

  async load(): Promise<AgentState> {
    const empty: AgentState = { revision: '', appliedAtMs: 0 };
    let meta: { revision: string; appliedAtMs: number; lastResult?: unknown };
    try {
      meta = JSON.parse(await fs.readFile(this.host.statePath('status.json'), 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return empty;
      throw err;
    }
    let plan: Plan | undefined;
    try {
      plan = Plan.decode(await fs.readFile(this.host.statePath('plan.pb')));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return {
      plan,
      revision: meta.revision,
      appliedAtMs: meta.appliedAtMs,
      lastResult: meta.lastResult ? ApplySummary.fromJSON(meta.lastResult) : undefined,
    };
  }

  async save(state: AgentState): Promise<void> {
    await fs.mkdir(this.host.statePath(), { recursive: true, mode: 0o700 });
    if (state.plan) {
      await writeFileAtomic(this.host.statePath('plan.pb'), Buffer.from(Plan.encode(state.plan).finish()), { mode: 0o600 });
    }
    const meta = {
      revision: state.revision,
      appliedAtMs: state.appliedAtMs,
      lastResult: state.lastResult ? ApplySummary.toJSON(state.lastResult) : undefined,
    };
    await writeFileAtomic(this.host.statePath('status.json'), Buffer.from(JSON.stringify(meta, null, 2) + '\n'), { mode: 0o600 });
  }
}
