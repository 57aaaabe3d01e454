import { memo } from 'preact/compat';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ago, basename } from './format.ts';
import { CERT_WARN_DAYS } from './model.ts';
import { Head } from './parts.tsx';
import type { NodeJson } from './types.ts';

// Rows have one height, so only the rows in view (and a few either side) are in the page:
// 1,000 nodes cost what 40 do, and an event re-renders the one row it changed.
export const ROW_PX = 36;
const OVERSCAN = 8;

const STATE_TEXT = { ready: 'ready', 'not-ready': 'not ready', unreachable: 'unreachable' } as const;

function probesText(n: NodeJson, now: number): { short: string; full: string; bad: boolean } {
  if (!n.probes.length) return { short: '-', full: 'no probes', bad: false };
  const bad = n.probes.filter((p) => p.state !== 'healthy');
  const full = n.probes
    .map((p) => `${p.name} ${p.state} for ${ago(p.since, now)}${p.lastError ? `, last error: ${p.lastError}` : ''}`)
    .join('\n');
  if (!bad.length) return { short: `${n.probes.length}/${n.probes.length} healthy`, full, bad: false };
  const b = bad[0];
  return { short: `${b.name} ${b.state} ${ago(b.since, now)}: ${b.lastError || b.message}${bad.length > 1 ? ` (+${bad.length - 1})` : ''}`, full, bad: true };
}

function driftText(n: NodeJson, now: number): { short: string; full: string } {
  const d = n.drift;
  if (!d || !d.detected) return { short: '0', full: 'no drift seen' };
  const count = d.policy === 'report' ? `${d.detected} reported` : `${d.repaired} repaired`;
  if (!d.last) return { short: count, full: count };
  const last = `${basename(d.last.path)} ${d.last.what} ${ago(d.last.at, now)} ago${d.last.repaired ? ', repaired' : d.last.error ? `: ${d.last.error}` : ''}`;
  return { short: `${count} · ${last}`, full: `${count}; last: ${d.last.path} ${d.last.what} at ${d.last.at}${d.last.error ? `: ${d.last.error}` : ''}` };
}

function detailText(n: NodeJson, now: number): string {
  if (n.error) return `unreachable for ${ago(n.errorSince, now)}: ${n.error}`;
  if (n.notReadyReason) return n.notReadyReason;
  return n.lastApply ?? '';
}

interface RowProps {
  n: NodeJson;
  index: number;
  now: number;
  flash: boolean;
  selected: boolean;
  onSelect(name: string): void;
}

const Row = memo(function Row({ n, index, now, flash, selected, onSelect }: RowProps) {
  const probes = probesText(n, now);
  const drift = driftText(n, now);
  const cert = n.soonestCertificate;
  return (
    <tr aria-rowindex={index + 2} class={`${flash ? 'flash' : ''} ${selected ? 'selected' : ''}`} data-node={n.node}>
      <th scope="row">
        <button type="button" class="link" aria-expanded={selected} onClick={() => onSelect(n.node)}>
          {n.node}
        </button>
        <span class="dim"> {n.address}</span>
      </th>
      <td>{n.roles.join(', ')}</td>
      <td class="num">{n.generation ?? '-'}</td>
      <td>
        <span class={`badge ${n.state}`}>{STATE_TEXT[n.state]}</span>
      </td>
      <td class={n.state === 'unreachable' ? 'dim' : probes.bad ? 'bad' : ''} title={n.state === 'unreachable' ? `last seen before it became unreachable:\n${probes.full}` : probes.full}>
        {probes.short}
      </td>
      <td class="drift" title={drift.full}>
        {drift.short}
      </td>
      <td class={cert && cert.daysLeft < CERT_WARN_DAYS ? 'bad' : ''} title={cert ? `${cert.path} (${cert.subject}) until ${cert.notAfter}` : 'no managed certificates'}>
        {cert ? `${cert.daysLeft}d ${basename(cert.path)}` : '-'}
      </td>
      <td title={detailText(n, now)}>{detailText(n, now)}</td>
    </tr>
  );
});

export interface FleetTableProps {
  nodes: NodeJson[];
  now: number;
  flashing: ReadonlySet<string>;
  selected: string | undefined;
  onSelect(name: string): void;
}

export function FleetTable({ nodes, now, flashing, selected, onSelect }: FleetTableProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 720 });
  useEffect(() => {
    const el = scroller.current!;
    let frame = 0;
    const measure = () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => setView({ top: el.scrollTop, height: el.clientHeight }));
    };
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    el.addEventListener('scroll', measure, { passive: true });
    return () => {
      ro.disconnect();
      el.removeEventListener('scroll', measure);
      cancelAnimationFrame(frame);
    };
  }, []);
  // A filter that shrinks the list can leave the scroll position past its end until the browser's
  // scroll event comes: the window is clamped to the rows there are.
  const span = Math.ceil(view.height / ROW_PX) + 2 * OVERSCAN;
  const first = Math.max(0, Math.min(Math.floor(view.top / ROW_PX) - OVERSCAN, nodes.length - span));
  const last = Math.min(nodes.length, first + span);
  const shown = nodes.slice(first, last);
  return (
    <div class="scroller" ref={scroller} tabIndex={0} role="region" aria-label={`Nodes, ${nodes.length} shown`}>
      <table class="fleet" aria-rowcount={nodes.length + 1}>
        <colgroup>
          <col class="c-node" />
          <col class="c-roles" />
          <col class="c-gen" />
          <col class="c-state" />
          <col class="c-probes" />
          <col class="c-drift" />
          <col class="c-cert" />
          <col class="c-detail" />
        </colgroup>
        <Head rowIndex={1} cols={['Node', 'Roles', 'Gen', 'State', 'Probes', 'Drift', 'Soonest cert', 'Detail']} />
        <tbody>
          {first > 0 && <tr class="spacer" aria-hidden="true" style={{ height: `${first * ROW_PX}px` }} />}
          {shown.map((n, i) => (
            <Row key={n.node} n={n} index={first + i} now={now} flash={flashing.has(n.node)} selected={selected === n.node} onSelect={onSelect} />
          ))}
          {last < nodes.length && <tr class="spacer" aria-hidden="true" style={{ height: `${(nodes.length - last) * ROW_PX}px` }} />}
        </tbody>
      </table>
      {nodes.length === 0 && <p class="empty">No node matches the filter.</p>}
    </div>
  );
}
