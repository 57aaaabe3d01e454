import type { Logger } from 'pino';
import { ProbeState, type Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import type { Host } from '../host/host.js';
import { certificatesOf } from '../status/hub.js';
import { bind } from '../tasks/index.js';
import type { LocalCheck } from './probes.js';

const EVERY_MS = 30_000;
export const CERT_WARN_DAYS = 30;

// The agent's checks of itself against its plan: are the static pods the kubelet reads the
// ones planned, and how long do the managed certificates have left.
export function localChecks(plan: Plan, host: Host, log: Logger): LocalCheck[] {
  const checks: LocalCheck[] = [];
  const pods = plan.tasks.filter((t) => t.staticPod);
  if (pods.length) {
    checks.push({
      name: 'static-pods',
      intervalMs: EVERY_MS,
      async run() {
        const wrong: string[] = [];
        for (const t of pods) {
          const b = bind(t)!;
          const observed = await b.task.observe(b.spec, { host, log });
          const diff = b.task.diff(b.spec, observed);
          if (diff.length) wrong.push(`${t.staticPod!.name}.yaml ${diff[0].before === '(absent)' ? 'missing' : 'differs'}`);
        }
        return wrong.length
          ? { state: ProbeState.PROBE_STATE_FAILED, message: wrong.join('; ') }
          : { state: ProbeState.PROBE_STATE_HEALTHY, message: `${pods.length} static pod manifest(s) as planned` };
      },
    });
  }
  if (plan.tasks.some((t) => t.certificate)) {
    checks.push({
      name: 'certificates',
      intervalMs: EVERY_MS,
      async run() {
        const certs = certificatesOf(plan).sort((a, b) => a.daysLeft - b.daysLeft);
        const expired = certs.filter((c) => c.daysLeft < 0);
        const soon = certs.filter((c) => c.daysLeft >= 0 && c.daysLeft < CERT_WARN_DAYS);
        const details = Object.fromEntries(certs.map((c) => [c.path, String(c.daysLeft)]));
        if (expired.length) return { state: ProbeState.PROBE_STATE_FAILED, message: `expired: ${expired.map((c) => c.path).join(', ')}`, details };
        if (soon.length) return { state: ProbeState.PROBE_STATE_DEGRADED, message: `expiring within ${CERT_WARN_DAYS} days: ${soon.map((c) => `${c.path} (${c.daysLeft}d)`).join(', ')}`, details };
        return { state: ProbeState.PROBE_STATE_HEALTHY, message: `${certs.length} certificate(s), the soonest expires in ${certs[0].daysLeft} days`, details };
      },
    });
  }
  return checks;
}
