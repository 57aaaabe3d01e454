import { useState } from 'preact/hooks';
import { ago, clock } from './format.ts';
import { Head } from './parts.tsx';
import type { NodeStatusLine, RolloutRecord, RolloutStatus, WaveRecord } from './types.ts';

export type RolloutAction = 'pause' | 'resume' | 'abort';

const DONE_STEPS = new Set(['healthy', 'failed', 'skipped']);
// The node steps one table lists at most (a wave of a large fleet has hundreds).
const MAX_STEPS = 300;

function waveState(w: WaveRecord, s: RolloutStatus, lines: Map<string, NodeStatusLine>): { cls: string; done: number; failed: number } {
  let done = 0;
  let failed = 0;
  for (const n of w.nodes) {
    const step = lines.get(n)?.step;
    if (step && DONE_STEPS.has(step)) done++;
    if (step === 'failed') failed++;
  }
  const cls = failed ? 'failed' : done === w.nodes.length ? 'done' : w.index === s.currentWave ? 'current' : 'pending';
  return { cls, done, failed };
}

export function WavesBar({ status }: { status: RolloutStatus }) {
  const lines = new Map(status.nodes.filter((l) => l.wave >= 0).map((l) => [l.node, l]));
  return (
    <ol class="waves" aria-label="Waves">
      {status.waves.map((w) => {
        const st = waveState(w, status, lines);
        const text = `wave ${w.index + 1} of ${status.waves.length}: ${w.label || w.role}, ${st.done} of ${w.nodes.length} nodes done${st.failed ? `, ${st.failed} failed` : ''}${st.cls === 'current' ? ' (in progress)' : ''}${w.pauseAfter ? ', pauses after' : ''}`;
        return (
          <li key={w.index} class={`wave ${st.cls}`} style={{ flexGrow: Math.max(1, w.nodes.length) }} title={text}>
            <span class="fill" style={{ width: `${(100 * st.done) / Math.max(1, w.nodes.length)}%` }} aria-hidden="true" />
            <span class="wave-label">
              {w.label || w.role} · {w.nodes.length}
            </span>
            <span class="sr-only">{text}</span>
          </li>
        );
      })}
    </ol>
  );
}

// The wave in progress, step by step: how many nodes are at each step, and the nodes that are
// not simply done or pending (dispatched, applied, gating, failed), which is where to look.
function waveSteps(s: RolloutStatus): { counts: [string, number][]; busy: NodeStatusLine[]; wave: NodeStatusLine[] } {
  const wave = s.nodes.filter((l) => l.wave === s.currentWave);
  const counts = new Map<string, number>();
  for (const l of wave) counts.set(l.step, (counts.get(l.step) ?? 0) + 1);
  const busy = s.nodes.filter((l) => l.step === 'failed' || (l.wave === s.currentWave && l.step !== 'pending' && !DONE_STEPS.has(l.step)) || (l.wave < 0 && !DONE_STEPS.has(l.step)));
  return { counts: [...counts], busy, wave };
}

function StepTable({ lines, now }: { lines: NodeStatusLine[]; now: number }) {
  return (
    <div class="steps-box">
      <table class="small steps">
        <Head cols={['Node', 'Wave', 'Step', 'Since', 'Detail']} />
        <tbody>
          {lines.slice(0, MAX_STEPS).map((l) => (
            <tr key={`${l.wave}/${l.node}`}>
              <th scope="row">{l.node}</th>
              <td class="num">{l.wave < 0 ? '-' : l.wave + 1}</td>
              <td>
                <span class={`step ${l.step}`}>{l.step}</span>
              </td>
              <td>{l.sinceMs ? ago(l.sinceMs, now) : '-'}</td>
              <td>{l.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {lines.length > MAX_STEPS && <p class="dim">and {lines.length - MAX_STEPS} more nodes</p>}
    </div>
  );
}

export interface RolloutPanelProps {
  record: RolloutRecord;
  status: RolloutStatus | undefined;
  canWrite: boolean;
  now: number;
  busy: boolean;
  error: string | undefined;
  onAction(action: RolloutAction, reason: string): void;
}

export function RolloutPanel({ record, status, canWrite, now, busy, error, onAction }: RolloutPanelProps) {
  const [reason, setReason] = useState('');
  const r = record;
  const active = r.state === 'running' || r.state === 'paused';
  const steps = status ? waveSteps(status) : undefined;
  const act = (a: RolloutAction) => {
    if (a === 'abort' && !window.confirm(`Abort rollout ${r.id}? Nothing more is dispatched and it cannot be resumed.`)) return;
    onAction(a, reason);
  };
  return (
    <div class="rollout">
      <p class="rollout-head">
        <strong>{r.undoOf ? `Undo of ${r.undoOf}` : `Rollout ${r.id}`}</strong> <span class={`badge ${r.state}`}>{r.state}</span>{' '}
        <span class="dim">
          by {r.operator.user}@{r.operator.host}, started {clock(r.createdAtMs)} ({ago(r.createdAtMs, now)} ago), last change {ago(r.updatedAtMs, now)} ago
        </span>
      </p>
      {r.reason && <p class="reason">{r.reason}</p>}
      {status && <WavesBar status={status} />}
      {canWrite && active && (
        <form
          class="actions"
          aria-label="Rollout controls"
          onSubmit={(e) => {
            e.preventDefault();
          }}
        >
          <label>
            Reason <input type="text" value={reason} maxLength={200} placeholder="optional" onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
          </label>
          {r.state === 'running' && (
            <button type="button" disabled={busy} onClick={() => act('pause')}>
              Pause
            </button>
          )}
          {r.state === 'paused' && (
            <button type="button" disabled={busy} onClick={() => act('resume')}>
              Resume
            </button>
          )}
          <button type="button" class="danger" disabled={busy} onClick={() => act('abort')}>
            Abort
          </button>
        </form>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {status && (
        <>
          <h3>Open waits</h3>
          {status.waits.length ? (
            <ul class="waits" aria-label="Open waits">
              {status.waits.map((w) => (
                <li key={`${w.node}/${w.probe}`}>
                  <strong>{w.node}</strong> waits on <strong>{w.probe}</strong> for {ago(w.sinceMs, now)}
                  {w.lastError ? (
                    <>
                      : last error <q>{w.lastError}</q>
                    </>
                  ) : (
                    ': no error yet, the probe is not healthy'
                  )}{' '}
                  <span class="dim">(checked {ago(w.updatedAtMs, now)} ago)</span>
                </li>
              ))}
            </ul>
          ) : (
            <p class="dim">No open waits.</p>
          )}
          {status.failed.length > 0 && (
            <>
              <h3>Failed</h3>
              <ul class="waits">
                {status.failed.map((f) => (
                  <li key={f.node}>
                    <strong>{f.node}</strong>: {f.error}
                  </li>
                ))}
              </ul>
            </>
          )}
          <h3>Node steps</h3>
          {steps && steps.wave.length > 0 && (
            <p>
              Wave {status.currentWave + 1}: {steps.counts.map(([step, n]) => `${n} ${step}`).join(', ')}
            </p>
          )}
          {steps && steps.busy.length > 0 ? <StepTable lines={steps.busy} now={now} /> : <p class="dim">No node is between dispatch and healthy.</p>}
          {steps && steps.wave.length > 0 && (
            <details>
              <summary>
                All {steps.wave.length} nodes of wave {status.currentWave + 1}
              </summary>
              <StepTable lines={steps.wave} now={now} />
            </details>
          )}
        </>
      )}
    </div>
  );
}
