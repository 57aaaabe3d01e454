import { ControllerError } from '../errors.js';

// Wave planning, pure: which nodes a rollout changes, in which order, how many at a time.
// etcd members one at a time (the leader last), control-plane nodes one at a time, lb nodes one
// at a time (the VIP holder last), then workers in batches.

export const WAVE_ROLES = ['etcd', 'control-plane', 'lb', 'worker'] as const;
export type WaveRole = (typeof WAVE_ROLES)[number];

export interface WaveNode {
  name: string;
  roles: readonly string[];
  labels?: Readonly<Record<string, string>>;
  // False when the node's new plan has the revision it already has: it is skipped.
  changed: boolean;
}

export interface WaveOptions {
  // The current etcd leader, changed last (a leader change per member is what we avoid).
  etcdLeader?: string;
  // The lb node holding the VIP, changed last.
  vipHolder?: string;
  // Worker batch: "5", "10%", or a ramp "1,5,25%" whose last value repeats (Ansible's serial).
  batch?: string;
  // A label: a worker wave never holds two values of it (--by rack).
  by?: string;
  // Pause after the first N workers.
  canary?: number;
}

export interface Wave {
  role: WaveRole;
  label: string;
  nodes: string[];
  // The rollout pauses after this wave until resumed (or the canary wait passes healthy).
  pauseAfter: boolean;
}

export interface WavePlan {
  waves: Wave[];
  skipped: { node: string; reason: string }[];
}

export type BatchStep = { count: number } | { percent: number };

const invalid = (message: string) => new ControllerError('ROLLOUT_INVALID', message);

// "1,5,25%" → [{count 1}, {count 5}, {percent 25}]; refuses zero, negatives, junk, >100%.
export function parseBatch(text: string): BatchStep[] {
  const parts = text.split(',').map((p) => p.trim());
  if (!text.trim() || parts.some((p) => !p)) throw invalid(`--batch "${text}": give N, N% or a list such as 1,5,25%`);
  return parts.map((p) => {
    const m = /^(\d+)(%?)$/.exec(p);
    if (!m) throw invalid(`--batch "${text}": "${p}" is not a whole number or a percentage`);
    const n = Number(m[1]);
    if (n === 0) throw invalid(`--batch "${text}": a batch of 0 would never finish`);
    if (m[2] && n > 100) throw invalid(`--batch "${text}": ${p} is more than all of them`);
    return m[2] ? { percent: n } : { count: n };
  });
}

// The size of batch i out of total: the last step repeats; a percentage rounds down, never to 0.
export function batchSize(steps: BatchStep[], i: number, total: number): number {
  const step = steps[Math.min(i, steps.length - 1)];
  if ('count' in step) return step.count;
  return Math.max(1, Math.floor((total * step.percent) / 100));
}

export function planWaves(nodes: readonly WaveNode[], options: WaveOptions = {}): WavePlan {
  const seen = new Set<string>();
  for (const n of nodes) {
    if (seen.has(n.name)) throw invalid(`node ${n.name} is listed twice`);
    seen.add(n.name);
    const unknown = n.roles.filter((r) => !(WAVE_ROLES as readonly string[]).includes(r));
    if (unknown.length) throw invalid(`node ${n.name} has unknown role ${unknown.join(', ')}`);
    if (!n.roles.length) throw invalid(`node ${n.name} has no role`);
  }
  if (options.canary !== undefined && (!Number.isInteger(options.canary) || options.canary < 1)) throw invalid(`--canary ${options.canary}: give a whole number of workers, 1 or more`);
  const steps = parseBatch(options.batch ?? '1');

  // A node with several roles goes in its earliest wave only.
  const byRole = new Map<WaveRole, WaveNode[]>(WAVE_ROLES.map((r) => [r, []]));
  const skipped: WavePlan['skipped'] = [];
  for (const n of [...nodes].sort((a, b) => a.name.localeCompare(b.name))) {
    const first = WAVE_ROLES.find((r) => n.roles.includes(r))!;
    if (!n.changed) skipped.push({ node: n.name, reason: `plan unchanged (${first})` });
    else byRole.get(first)!.push(n);
  }

  const waves: Wave[] = [];
  const oneAtATime = (role: WaveRole, list: WaveNode[], last?: string) => {
    const ordered = [...list.filter((n) => n.name !== last), ...list.filter((n) => n.name === last)];
    ordered.forEach((n, i) => waves.push({ role, label: `${role} ${i + 1}/${ordered.length}: ${n.name}${n.name === last ? ` (${role === 'etcd' ? 'leader' : 'VIP holder'}, last)` : ''}`, nodes: [n.name], pauseAfter: false }));
  };
  oneAtATime('etcd', byRole.get('etcd')!, options.etcdLeader);
  oneAtATime('control-plane', byRole.get('control-plane')!);
  oneAtATime('lb', byRole.get('lb')!, options.vipHolder);
  waves.push(...workerWaves(byRole.get('worker')!, steps, options));
  return { waves, skipped };
}

function workerWaves(workers: WaveNode[], steps: BatchStep[], options: WaveOptions): Wave[] {
  const total = workers.length;
  if (!total) return [];
  // Groups by the --by label's value (in name order within each); one group without --by.
  const groups = new Map<string, WaveNode[]>();
  for (const w of workers) {
    const key = options.by ? (w.labels?.[options.by] ?? '') : '';
    groups.set(key, [...(groups.get(key) ?? []), w]);
  }
  const keys = [...groups.keys()].sort();
  const waves: Wave[] = [];
  let canaryLeft = Math.min(options.canary ?? 0, total);
  let batch = 0;
  for (const key of keys) {
    const group = groups.get(key)!;
    const where = options.by ? ` (${options.by}=${key || '(none)'})` : '';
    for (let i = 0; i < group.length;) {
      const canary = canaryLeft > 0;
      // A wave never crosses a group: a rack's last batch may be smaller than the step.
      const size = Math.min(canary ? canaryLeft : batchSize(steps, batch++, total), group.length - i);
      const nodes = group.slice(i, i + size).map((n) => n.name);
      i += size;
      if (canary) canaryLeft -= size;
      waves.push({ role: 'worker', label: canary ? `canary ${nodes.length} worker(s)${where}` : `workers batch ${batch}${where}`, nodes, pauseAfter: canary && canaryLeft === 0 });
    }
  }
  return waves;
}
