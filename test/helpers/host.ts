import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Engine } from '../../agent/engine/engine.js';
import { Host } from '../../agent/host/host.js';
import type { Kernel } from '../../agent/host/kernel.js';
import { DEFAULT_ALLOWED_TREES } from '../../agent/host/path-policy.js';
import { ApplyMode, Plan, TaskResult } from '../../proto/gen/muster/agent/v1/agent.js';
import { Task } from '../../proto/gen/muster/agent/v1/tasks.js';
import type { DeepPartial } from '../../proto/gen/muster/agent/v1/tasks.js';

export const silent = pino({ level: 'silent' });

// The agent's default trees and the container runtime's fixed config paths, which cluster
// plans write (containerd's config.toml, crictl's config) and the defaults do not hold yet.
// What a cluster node's agent manages: the defaults (containerd and crictl included).
export const CLUSTER_NODE_TREES = DEFAULT_ALLOWED_TREES;

export interface TempHost {
  root: string;
  host: Host;
  engine: Engine;
  // real path of a host path under the temp root
  real(hostPath: string): string;
  run(tasks: DeepPartial<Task>[], mode?: ApplyMode, handlers?: Plan['handlers']): Promise<{ results: TaskResult[]; summary: Awaited<ReturnType<Engine['run']>> }>;
  cleanup(): Promise<void>;
}

// kernel: the real one unless a test gives another (a fake, or the system tests' stand-in view).
export async function tempHost(options: { kernel?: Kernel; allowedTrees?: readonly string[] } = {}): Promise<TempHost> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-host-'));
  const host = new Host({ root, allowedTrees: [...(options.allowedTrees ?? DEFAULT_ALLOWED_TREES)], stateDir: '/var/lib/musterd' });
  const engine = new Engine(host, silent, {}, options.kernel);
  await engine.init();
  return {
    root,
    host,
    engine,
    real: (p) => path.join(root, p),
    async run(tasks, mode = ApplyMode.APPLY_MODE_APPLY, handlers = []) {
      const results: TaskResult[] = [];
      const plan = Plan.fromPartial({ node: 'test', revision: 'r1', tasks: tasks.map((t) => Task.fromPartial(t)), handlers });
      const summary = await engine.run(plan, { mode, onResult: (r) => results.push(r) });
      return { results, summary };
    },
    cleanup: () => fs.rm(root, { recursive: true, force: true }),
  };
}

// Every file under a folder with its bytes and mode: a snapshot to prove nothing was touched.
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(d: string) {
    let entries;
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else {
        const st = await fs.lstat(p);
        out[path.relative(dir, p)] = `${(st.mode & 0o7777).toString(8)} ${st.mtimeMs} ${e.isFile() ? (await fs.readFile(p)).toString('base64') : 'link'}`;
      }
    }
  }
  await walk(dir);
  return out;
}
