import { ago, clock } from './format.ts';
import { Head } from './parts.tsx';
import type { NodeJson } from './types.ts';

// One node in full: every probe with its last error and since when, every certificate, the last drift.
export function NodeDetail({ n, now, onClose }: { n: NodeJson; now: number; onClose(): void }) {
  const certs = ((n.status as { certificates?: { path: string; subject: string; daysLeft: number; notAfterMs: number }[] } | undefined)?.certificates ?? [])
    .slice()
    .sort((a, b) => a.daysLeft - b.daysLeft);
  return (
    <section class="detail" aria-labelledby="detail-title">
      <header>
        <h3 id="detail-title">
          {n.node} <span class="dim">{n.address}</span>
        </h3>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </header>
      <dl class="facts">
        <dt>State</dt>
        <dd>{n.error ? `unreachable for ${ago(n.errorSince, now)}: ${n.error}` : n.state === 'ready' ? 'ready' : `not ready: ${n.notReadyReason ?? ''}`}</dd>
        <dt>Roles</dt>
        <dd>{n.roles.join(', ') || '-'}</dd>
        <dt>Labels</dt>
        <dd>{Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(', ') || '-'}</dd>
        <dt>Generation</dt>
        <dd>
          {n.generation ?? '-'} <span class="dim">{n.revision ?? ''}</span>
        </dd>
        <dt>Last apply</dt>
        <dd>
          {n.lastApply ?? '-'} {n.appliedAt && <span class="dim">at {clock(n.appliedAt)}</span>}
        </dd>
        <dt>Drift</dt>
        <dd>
          {n.drift
            ? `${n.drift.detected} seen, ${n.drift.repaired} repaired (policy ${n.drift.policy})${n.drift.last ? `; last: ${n.drift.last.path} ${n.drift.last.what} at ${clock(n.drift.last.at)}${n.drift.last.repaired ? ', repaired' : ''}${n.drift.last.error ? `: ${n.drift.last.error}` : ''}` : ''}`
            : '-'}
        </dd>
      </dl>
      <h4>Probes</h4>
      {n.probes.length ? (
        <table class="small">
          <Head cols={['Probe', 'State', 'Since', 'Message', 'Last error']} />
          <tbody>
            {n.probes.map((p) => (
              <tr key={p.name}>
                <th scope="row">{p.name}</th>
                <td class={p.state === 'healthy' ? '' : 'bad'}>{p.state}</td>
                <td>{ago(p.since, now)}</td>
                <td>{p.message}</td>
                <td>{p.lastError || '-'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="dim">No probes.</p>
      )}
      <h4>Certificates</h4>
      {certs.length ? (
        <table class="small">
          <Head cols={['Path', 'Subject', 'Days left', 'Expires']} />
          <tbody>
            {certs.map((c) => (
              <tr key={c.path}>
                <th scope="row">{c.path}</th>
                <td>{c.subject}</td>
                <td class="num">{c.daysLeft}</td>
                <td>{clock(c.notAfterMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="dim">No managed certificates.</p>
      )}
    </section>
  );
}
