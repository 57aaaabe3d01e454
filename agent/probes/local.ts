import type { Logger } from 'pino';
import { ProbeState, type MountStatus, type Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import { MountState } from '../../proto/gen/muster/agent/v1/mount.js';
import { observeMounts } from '../tasks/mount/index.js';
import type { Host } from '../host/host.js';
import { linuxKernel, type Kernel } from '../host/kernel.js';
import { certificatesOf } from '../status/hub.js';
import { bind } from '../tasks/index.js';
import type { LocalCheck } from './probes.js';
import { CRICTL_MISSING, notRestarted, plannedPod, runningPods, type RuntimeOptions } from './running-pods.js';

const EVERY_MS = 30_000;
export const CERT_WARN_DAYS = 30;

// The agent's checks of itself against its plan: are the static pods the kubelet reads the
// ones planned, and how long do the managed certificates have left.
export function localChecks(plan: Plan, host: Host, log: Logger, onMounts: (m: MountStatus[]) => void = () => {}, kernel: Kernel = linuxKernel(host.root), runtime: RuntimeOptions = {}): LocalCheck[] {
  const checks: LocalCheck[] = [];
  const pods = plan.tasks.filter((t) => t.staticPod);
  if (pods.length) {
    checks.push({
      name: 'static-pods',
      // As often as the plan's own probes: a rollout's gate waits on this one for each restart.
      intervalMs: Math.min(EVERY_MS, ...plan.probes.map((p) => p.intervalMs || EVERY_MS)),
      async run() {
        const wrong: string[] = [];
        for (const t of pods) {
          const b = bind(t)!;
          const observed = await b.task.observe(b.spec, { host, log, kernel });
          const diff = b.task.diff(b.spec, observed);
          if (diff.length) wrong.push(`${t.staticPod!.name}.yaml ${diff[0].before === '(absent)' ? 'missing' : 'differs'}`);
        }
        if (wrong.length) return { state: ProbeState.PROBE_STATE_FAILED, message: wrong.join('; ') };
        return restartView(pods.map((t) => plannedPod(t.staticPod!.name, t.staticPod!.manifest)), host, runtime);
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
  const mounts = plan.tasks.filter((t) => t.mount).map((t) => t.mount!);
  if (mounts.length) {
    checks.push({
      name: 'mounts',
      intervalMs: EVERY_MS,
      async run() {
        const seen = await observeMounts(mounts, host, kernel);
        onMounts(seen);
        const wanted = mounts.map((m, i) => ({ m, s: seen[i] })).filter(({ m }) => m.state === MountState.MOUNT_STATE_MOUNTED || m.state === MountState.MOUNT_STATE_UNSPECIFIED);
        const down = wanted.filter(({ s }) => !s.mounted).map(({ m }) => m.target);
        const details = Object.fromEntries(seen.map((s) => [s.target, s.mounted ? `${s.source} ${s.fsType}, ${s.freeBytes} of ${s.totalBytes} bytes free` : 'not mounted']));
        if (down.length) return { state: ProbeState.PROBE_STATE_FAILED, message: `not mounted: ${down.join(', ')}`, details };
        return { state: ProbeState.PROBE_STATE_HEALTHY, message: `${wanted.length} mount(s) in place`, details };
      },
    });
  }
  return checks;
}

// Restart detection: per pod "<pod>.manifest-hash" (planned) and "<pod>.running-hash" (the
// running sandbox's annotation, from crictl); healthy once every pod runs its planned manifest.
async function restartView(pods: ReturnType<typeof plannedPod>[], host: Host, runtime: RuntimeOptions) {
  const seen = await runningPods(pods, host.root, runtime);
  const details: Record<string, string> = {};
  for (const p of pods) {
    details[`${p.name}.manifest-hash`] = p.manifestHash;
    details[`${p.name}.running-hash`] = seen.running.get(p.name) ?? '';
  }
  // Without crictl the files are still checked; only a rollout's restart gate needs the running view, and says why it waits.
  if (seen.error) return { state: seen.error === CRICTL_MISSING ? ProbeState.PROBE_STATE_HEALTHY : ProbeState.PROBE_STATE_DEGRADED, message: `${pods.length} static pod manifest(s) as planned; running pods unknown: ${seen.error}`, details };
  const stale = notRestarted(pods, seen.running);
  if (stale.length) return { state: ProbeState.PROBE_STATE_DEGRADED, message: `manifests as planned, waiting for the kubelet: ${stale.join('; ')}`, details };
  return { state: ProbeState.PROBE_STATE_HEALTHY, message: `${pods.length} static pod(s) running as planned`, details };
}
