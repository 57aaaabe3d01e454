import type { Logger } from 'pino';
import { ProbeState, type ProbeSpec, type ProbeStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import type { Host } from '../host/host.js';
import { request, type TlsFiles } from './request.js';

export interface ProbeOutcome {
  state: ProbeState;
  message: string;
  details?: Record<string, string>;
}

const DEFAULT_INTERVAL_MS = 10_000;
const DEFAULT_TIMEOUT_MS = 3_000;

async function tlsFiles(host: Host, p: { caPath: string; certPath: string; keyPath: string; insecure?: boolean }): Promise<TlsFiles> {
  const read = async (path: string) => (path ? (await host.read(path))?.content : undefined);
  return { ca: await read(p.caPath), cert: await read(p.certPath), key: await read(p.keyPath), insecure: p.insecure };
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0].slice(0, 200);
}

// One check, whatever its kind: healthy, degraded or failed, with what was seen.
export async function check(spec: ProbeSpec, host: Host): Promise<ProbeOutcome> {
  const timeoutMs = spec.timeoutMs || DEFAULT_TIMEOUT_MS;
  if (spec.http) {
    const res = await request(spec.http.url, { timeoutMs, tls: await tlsFiles(host, spec.http) });
    const ok = res.status >= 200 && res.status < 300;
    return { state: ok ? ProbeState.PROBE_STATE_HEALTHY : ProbeState.PROBE_STATE_FAILED, message: `GET ${spec.http.url}: HTTP ${res.status} ${firstLine(res.body)}`.trim() };
  }
  if (spec.etcd) return checkEtcd(spec.etcd, host, timeoutMs);
  return { state: ProbeState.PROBE_STATE_FAILED, message: 'the probe has no check' };
}

// etcd: /health, then the member's status and alarms through the v3 JSON gateway (etcd 3.4+).
async function checkEtcd(e: NonNullable<ProbeSpec['etcd']>, host: Host, timeoutMs: number): Promise<ProbeOutcome> {
  const tls = await tlsFiles(host, e);
  const base = e.endpoint.replace(/\/+$/, '');
  const health = await request(`${base}/health`, { timeoutMs, tls });
  let healthy = false;
  try {
    healthy = JSON.parse(health.body).health === 'true';
  } catch {
    healthy = false;
  }
  const status = JSON.parse((await request(`${base}/v3/maintenance/status`, { method: 'POST', body: '{}', timeoutMs, tls })).body);
  const alarmAnswer = JSON.parse((await request(`${base}/v3/maintenance/alarm`, { method: 'POST', body: '{"action":"GET"}', timeoutMs, tls })).body);
  const alarms: string[] = (alarmAnswer.alarms ?? []).map((a: { memberID?: string; alarm?: string }) => `${a.alarm ?? 'ALARM'}@${a.memberID ?? '?'}`);
  const details: Record<string, string> = {
    member_id: String(status.header?.member_id ?? ''),
    leader: String(status.leader ?? ''),
    raft_index: String(status.raftIndex ?? ''),
    raft_term: String(status.raftTerm ?? ''),
    db_size: String(status.dbSize ?? ''),
    version: String(status.version ?? ''),
    alarms: alarms.join(',') || 'none',
  };
  if (!healthy) return { state: ProbeState.PROBE_STATE_FAILED, message: `GET ${base}/health: ${firstLine(health.body) || `HTTP ${health.status}`}`, details };
  if (alarms.length) return { state: ProbeState.PROBE_STATE_DEGRADED, message: `alarms: ${alarms.join(', ')}`, details };
  if (!status.leader || status.leader === '0') return { state: ProbeState.PROBE_STATE_DEGRADED, message: 'no leader', details };
  return { state: ProbeState.PROBE_STATE_HEALTHY, message: `member ${details.member_id}, leader ${details.leader}, raft index ${details.raft_index}, db ${details.db_size} bytes`, details };
}

// A check the agent makes of itself, against its own plan (static pods, certificates).
export interface LocalCheck {
  name: string;
  intervalMs: number;
  run(): Promise<ProbeOutcome>;
}

// Runs each probe of the plan on its own interval and keeps the last result, the last error
// and since when the state holds.
export class ProbeRunner {
  private specs: { name: string; intervalMs: number; run: () => Promise<ProbeOutcome> }[] = [];
  private readonly results = new Map<string, ProbeStatus>();
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly host: Host, private readonly log: Logger, private readonly onChange: () => void) {}

  set(specs: ProbeSpec[], locals: LocalCheck[] = []): void {
    this.stop();
    const all: { name: string; intervalMs: number; run: () => Promise<ProbeOutcome> }[] = [
      ...specs.map((spec) => ({ name: spec.name, intervalMs: spec.intervalMs || DEFAULT_INTERVAL_MS, run: () => check(spec, this.host) })),
      ...locals,
    ];
    this.specs = all;
    for (const name of [...this.results.keys()]) if (!all.some((s) => s.name === name)) this.results.delete(name);
    for (const probe of all) {
      void this.run(probe);
      const t = setInterval(() => void this.run(probe), probe.intervalMs);
      t.unref();
      this.timers.push(t);
    }
  }

  statuses(): ProbeStatus[] {
    return this.specs.map((s) => this.results.get(s.name)).filter((s): s is ProbeStatus => !!s);
  }

  runAll(): Promise<void> {
    return Promise.all(this.specs.map((s) => this.run(s))).then(() => undefined);
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  private async run(spec: { name: string; run: () => Promise<ProbeOutcome> }): Promise<void> {
    let outcome: ProbeOutcome;
    try {
      outcome = await spec.run();
    } catch (err) {
      outcome = { state: ProbeState.PROBE_STATE_FAILED, message: (err as Error).message };
    }
    const now = Date.now();
    const prev = this.results.get(spec.name);
    const failing = outcome.state !== ProbeState.PROBE_STATE_HEALTHY;
    const next: ProbeStatus = {
      name: spec.name,
      state: outcome.state,
      message: outcome.message,
      lastError: failing ? outcome.message : (prev?.lastError ?? ''),
      sinceMs: prev && prev.state === outcome.state ? prev.sinceMs : now,
      checkedAtMs: now,
      details: outcome.details ?? {},
    };
    this.results.set(spec.name, next);
    if (!prev || prev.state !== next.state || prev.message !== next.message) {
      if (prev?.state !== next.state) this.log.info({ probe: spec.name, state: ProbeState[next.state], message: next.message }, 'probe state');
      this.onChange();
    }
  }
}
