import fs from 'node:fs/promises';
import { Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import type { Task as TaskMessage } from '../../proto/gen/muster/agent/v1/tasks.js';
import { writeFileAtomic } from '../../common/atomic-write.js';
import type { Host } from '../host/host.js';
import { bind, type BoundTask } from '../tasks/index.js';

// Removal order: static pods first (the kubelet stops them), services stopped before their
// files go, mounts after the files that configure them, packages last.
const ORDER: Record<string, number> = { 'static-pod': 0, service: 1, mount: 3, package: 4 };
const rank = (kind: string) => ORDER[kind] ?? 2;

export interface PlannedRemoval {
  // the task of an earlier plan whose state is being taken away
  source: TaskMessage;
  bound: BoundTask;
}

// What left the plan is removed from the host. The tasks still to remove are kept on disk
// before anything is removed: a removal that fails (or a crash) is tried again at the next
// apply, even though the new plan has become the node's plan by then.
export class Pruner {
  private pending: TaskMessage[] = [];

  constructor(private readonly host: Host) {}

  private get file(): string {
    return this.host.statePath('pending-removals.pb');
  }

  async load(): Promise<void> {
    try {
      this.pending = Plan.decode(await fs.readFile(this.file)).tasks;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  // The removals the next plan needs, in order: tasks of the previous plan (and removals still
  // owed) whose keys the next plan no longer manages. Nothing when the plan keeps what it drops.
  removals(previous: Plan | undefined, next: Plan): PlannedRemoval[] {
    if (next.keepRemoved) return [];
    const keys = new Set(next.tasks.flatMap((t) => bind(t)?.task.keys(bind(t)!.spec) ?? []));
    const kept = (key: string) => keys.has(key);
    const seen = new Set<string>();
    const out: PlannedRemoval[] = [];
    for (const source of [...this.pending, ...(previous?.tasks ?? [])]) {
      const b = bind(source);
      if (!b || source.keepWhenRemoved) continue;
      const removal = b.task.removal?.(b.spec, kept);
      if (!removal) continue;
      const id = `${b.kind}:${removal.task.keys(removal.spec).join(',')}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push({ source, bound: { id: source.id, kind: b.kind, task: removal.task, spec: removal.spec } });
    }
    return out.sort((a, b) => rank(a.bound.kind) - rank(b.bound.kind));
  }

  // Recorded before the first removal runs.
  async owe(removals: PlannedRemoval[]): Promise<void> {
    this.pending = removals.map((r) => r.source);
    await this.save();
  }

  async done(removal: PlannedRemoval): Promise<void> {
    this.pending = this.pending.filter((t) => t !== removal.source);
    await this.save();
  }

  private async save(): Promise<void> {
    if (!this.pending.length) {
      await fs.rm(this.file, { force: true });
      return;
    }
    await fs.mkdir(this.host.statePath(), { recursive: true, mode: 0o700 });
    // Old tasks can hold keys: 0600 like the plan itself.
    await writeFileAtomic(this.file, Buffer.from(Plan.encode(Plan.fromPartial({ tasks: this.pending })).finish()), { mode: 0o600 });
  }
}
