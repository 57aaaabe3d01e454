import { execFile } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';

// What the runner needs from the rest of the controller, as small interfaces, so it does not
// depend on how the app layer reaches agents or reads their status streams.

export interface DispatchRequest {
  node: string;
  mode: 'check' | 'apply';
  // The Plan's protobuf bytes as stored (undo sends an earlier generation's bytes again).
  plan: Uint8Array;
  revision: string;
  generation: number;
  // Lets a lower generation through on the agent (rollout undo only).
  rollback: boolean;
}

export interface DispatchOutcome {
  // converged: every task ok or changed; would-change: a check found something to do;
  // failed: a task failed or the agent refused the plan; unreachable: no answer.
  status: 'converged' | 'would-change' | 'failed' | 'unreachable';
  changed: number;
  // What failed, as a person reads it (task, code, message; or the connection error).
  error?: string;
}

export interface Dispatcher {
  dispatch(req: DispatchRequest): Promise<DispatchOutcome>;
}

// One probe as the agent's status stream last reported it.
export interface ProbeView {
  healthy: boolean;
  message: string;
  lastError: string;
  sinceMs: number;
  details: Record<string, string>;
}

// A static pod as the node sees it: the hash of the manifest the agent wrote, and the hash of
// the manifest the running pod was started from (the kubelet's view). Equal once restarted.
export interface StaticPodView {
  manifestHash: string;
  runningHash: string;
}

export interface NodeHealth {
  reachable: boolean;
  // Why not reachable.
  error?: string;
  // The generation and revision the agent applied last (NodeStatus.generation, .revision).
  generation: number;
  revision: string;
  // By probe name: kubelet, etcd, kube-apiserver, kube-apiserver-vip, static-pods, mounts, certificates.
  probes: Record<string, ProbeView>;
  // The etcd probe's member view (its details member_id, leader, raft_index), on etcd nodes.
  etcd?: { memberId: string; leaderId: string; raftIndex: number };
  // By pod name; absent when the agent does not report running pods.
  staticPods?: Record<string, StaticPodView>;
}

export interface HealthSource {
  health(node: string): Promise<NodeHealth>;
}

// An etcd snapshot an agent saved (SnapshotEtcd): where, how big, at which revision, its sha256.
export interface EtcdSnapshotView {
  path: string;
  sizeBytes: number;
  revision: number;
  sha256: string;
}

export interface EtcdSnapshotter {
  snapshot(node: string): Promise<EtcdSnapshotView>;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = { now: () => Date.now(), sleep: (ms) => delay(ms) };

export interface HookOutcome {
  ok: boolean;
  // stdout and stderr, trimmed to the journal's limit.
  output: string;
}

export interface HookRunner {
  run(command: string[], env: Record<string, string>, timeoutMs: number): Promise<HookOutcome>;
}

const HOOK_OUTPUT_LIMIT = 8 * 1024;

// Hooks are real processes: argv, no shell unless the command is one; killed at the timeout.
export const processHooks: HookRunner = {
  run(command, env, timeoutMs) {
    return new Promise((resolve) => {
      execFile(command[0], command.slice(1), { env: { ...process.env, ...env }, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
        let output = `${stdout}${stderr}`.trim();
        if (output.length > HOOK_OUTPUT_LIMIT) output = `${output.slice(0, HOOK_OUTPUT_LIMIT)}… (cut)`;
        if (!err) return resolve({ ok: true, output });
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
        const why = e.killed ? `timed out after ${timeoutMs} ms` : typeof e.code === 'number' ? `exit status ${e.code}` : e.message;
        resolve({ ok: false, output: output ? `${why}: ${output}` : why });
      });
    });
  },
};
