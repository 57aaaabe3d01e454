import { InvalidArgumentError } from 'commander';
import { WAVE_ROLES, type WaveRole } from '../rollout/waves.js';

// Durations as operators type them: 30s, 5m, 1h, 250ms, or 0.
const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m || (!m[2] && Number(m[1]) !== 0)) throw new InvalidArgumentError(`"${text}": give a duration such as 30s, 5m, 1h or 250ms (0 for none)`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 'ms']);
}

// "30s" (every role), "etcd=30s,worker=0", or both ("1m,etcd=5m": etcd 5 m, the rest 1 m).
export function parseRoleDurations(text: string): Partial<Record<WaveRole, number>> {
  const out: Partial<Record<WaveRole, number>> = {};
  const parts = text.split(',').map((p) => p.trim()).filter(Boolean);
  if (!parts.length) throw new InvalidArgumentError(`"${text}": give a duration, or role=duration pairs`);
  for (const part of parts.filter((p) => !p.includes('='))) for (const r of WAVE_ROLES) out[r] = parseDuration(part);
  for (const part of parts.filter((p) => p.includes('='))) {
    const [role, value] = part.split('=', 2).map((x) => x.trim());
    if (!(WAVE_ROLES as readonly string[]).includes(role)) throw new InvalidArgumentError(`"${role}" is not a role: give one of ${WAVE_ROLES.join(', ')}`);
    out[role as WaveRole] = parseDuration(value);
  }
  return out;
}
