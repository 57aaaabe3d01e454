import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Engine } from '../../../agent/engine/engine.js';
import { Host } from '../../../agent/host/host.js';
import { DEFAULT_ALLOWED_TREES } from '../../../agent/host/path-policy.js';
import { ApplyMode, Plan, TaskResult, TaskStatus } from '../../../proto/gen/muster/agent/v1/agent.js';
import { Task, type DeepPartial } from '../../../proto/gen/muster/agent/v1/tasks.js';
import { silent } from '../../helpers/host.js';

export interface RootHost {
  dir: string;
  engine: Engine;
  run(tasks: DeepPartial<Task>[], mode?: ApplyMode): Promise<TaskResult[]>;
  // the last task's status name (the others are its prerequisites), failing the test with the agent's error
  status(task: DeepPartial<Task> | DeepPartial<Task>[], mode?: ApplyMode): Promise<string>;
  cleanup(): Promise<void>;
}

// An agent on this machine's real root (/), as on a node, its state in a temp folder; extra
// allowed trees for the test's own files.
export async function rootHost(extraTrees: string[] = []): Promise<RootHost> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-root-'));
  const host = new Host({ root: '/', allowedTrees: [...DEFAULT_ALLOWED_TREES, ...extraTrees], stateDir: path.join(dir, 'state') });
  const engine = new Engine(host, silent);
  await engine.init();
  const run = async (tasks: DeepPartial<Task>[], mode = ApplyMode.APPLY_MODE_APPLY) => {
    const results: TaskResult[] = [];
    await engine.run(Plan.fromPartial({ node: 'this', revision: 'r', tasks: tasks.map((t) => Task.fromPartial(t)) }), { mode, onResult: (r) => results.push(r) });
    return results;
  };
  return {
    dir,
    engine,
    run,
    async status(task, mode) {
      const results = (await run(Array.isArray(task) ? task : [task], mode)).filter((x) => !x.removal);
      const failed = results.find((x) => x.status === TaskStatus.TASK_STATUS_FAILED);
      const r = failed ?? results[results.length - 1];
      if (r.status === TaskStatus.TASK_STATUS_FAILED) throw new Error(`${r.errorCode}: ${r.errorMessage}`);
      return TaskStatus[r.status].replace('TASK_STATUS_', '').toLowerCase();
    },
    cleanup: () => fs.rm(dir, { recursive: true, force: true }),
  };
}
