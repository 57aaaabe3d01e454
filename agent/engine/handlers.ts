import fs from 'node:fs/promises';
import { writeFileAtomic } from '../../common/atomic-write.js';
import { TaskResult, TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { Handler } from '../../proto/gen/muster/agent/v1/tasks.js';
import { toAgentError } from '../errors.js';
import type { Host } from '../host/host.js';
import { run } from '../host/exec.js';

export const DEFAULT_HANDLER_TIMEOUT_MS = 60_000;

// Handlers a changed task owes, kept on disk before anything else happens: a failure later
// in the plan, or a crash, never loses a reload. They run at the end of the next plan that
// gets through all its tasks.
export class OwedHandlers {
  private owed = new Map<string, Handler>();

  constructor(private readonly host: Host) {}

  private get file(): string {
    return this.host.statePath('owed-handlers.json');
  }

  async load(): Promise<void> {
    try {
      const list = JSON.parse(await fs.readFile(this.file, 'utf8')) as unknown[];
      this.owed = new Map(list.map((h) => Handler.fromJSON(h)).map((h) => [h.id, h]));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  get ids(): string[] {
    return [...this.owed.keys()];
  }

  async owe(handlers: Handler[]): Promise<void> {
    const fresh = handlers.filter((h) => !this.owed.has(h.id));
    if (!fresh.length) return;
    for (const h of fresh) this.owed.set(h.id, h);
    await this.save();
  }

  // Runs every owed handler once, in the order owed; each one that succeeds is paid. An owed id
  // runs the command the current plan gives it (a bad command fixed in the spec must not run
  // forever); the recorded command only when the id has left the plan.
  async runAll(emit: (r: TaskResult) => void, current: Handler[] = []): Promise<boolean> {
    let ok = true;
    const byId = new Map(current.map((h) => [h.id, h]));
    for (const owed of [...this.owed.values()]) {
      const h = byId.get(owed.id) ?? owed;
      const started = performance.now();
      const result = TaskResult.fromPartial({ id: `handler:${h.id}`, kind: 'handler' });
      try {
        await run(h.command[0], h.command.slice(1), { timeoutMs: h.timeoutMs || DEFAULT_HANDLER_TIMEOUT_MS });
        result.status = TaskStatus.TASK_STATUS_CHANGED;
        result.diffs = [{ header: `handler ${h.id}`, before: 'owed', after: `ran: ${h.command.join(' ')}` }];
        this.owed.delete(h.id);
        await this.save();
      } catch (err) {
        const e = toAgentError(err);
        Object.assign(result, { status: TaskStatus.TASK_STATUS_FAILED, errorCode: e.code, errorMessage: `${e.message} (still owed; runs again at the next apply)` });
        ok = false;
      }
      result.durationUs = Math.round((performance.now() - started) * 1000);
      emit(result);
    }
    return ok;
  }

  // What a check run or a stopped plan says about handlers it did not run.
  report(extra: Handler[], status: TaskStatus, message: string, emit: (r: TaskResult) => void): void {
    const all = new Map(this.owed);
    for (const h of extra) all.set(h.id, h);
    for (const h of all.values()) {
      emit(TaskResult.fromPartial({ id: `handler:${h.id}`, kind: 'handler', status, diffs: [{ header: `handler ${h.id}`, before: this.owed.has(h.id) ? 'owed' : 'not owed', after: `would run: ${h.command.join(' ')}` }], errorMessage: message }));
    }
  }

  private async save(): Promise<void> {
    await fs.mkdir(this.host.statePath(), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file, JSON.stringify([...this.owed.values()].map((h) => Handler.toJSON(h)), null, 2) + '\n', { mode: 0o600 });
  }
}
