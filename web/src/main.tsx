import { render } from 'preact';
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { FleetTable } from './fleet-table.tsx';
import { ago, basename } from './format.ts';
import { HistoryPanel } from './history-panel.tsx';
import { Live } from './live.ts';
import { matches, NO_FILTER, STATE_FILTERS, type Filter, type StateFilter } from './model.ts';
import { NodeDetail } from './node-detail.tsx';
import { Choice } from './parts.tsx';
import { RolloutPanel } from './rollout-panel.tsx';
import './style.css';

const live = new Live();

// The filter lives in the address (?role=worker&state=unreachable), so a view can be bookmarked.
function readFilter(): Filter {
  const p = new URLSearchParams(location.search);
  const state = p.get('state') ?? '';
  return {
    text: p.get('q') ?? '',
    role: p.get('role') ?? '',
    label: p.get('label') ?? '',
    state: STATE_FILTERS.some((s) => s.value === state) ? (state as StateFilter) : '',
  };
}

function writeFilter(f: Filter): void {
  const p = new URLSearchParams();
  if (f.text) p.set('q', f.text);
  if (f.role) p.set('role', f.role);
  if (f.label) p.set('label', f.label);
  if (f.state) p.set('state', f.state);
  const qs = p.toString();
  history.replaceState(null, '', qs ? `?${qs}` : location.pathname);
}

function useLive(): number {
  const [v, setV] = useState(live.version);
  useEffect(() => live.subscribe(() => setV(live.version)), []);
  return v;
}

function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

function Filters({ f, set, roles, labels, shown, total }: { f: Filter; set(f: Filter): void; roles: string[]; labels: string[]; shown: number; total: number }) {
  return (
    <form class="filters" role="search" aria-label="Filter nodes" onSubmit={(e) => e.preventDefault()}>
      <label>
        Name or address <input type="search" value={f.text} onInput={(e) => set({ ...f, text: (e.target as HTMLInputElement).value })} />
      </label>
      <Choice label="Role" value={f.role} options={[{ value: '', label: 'any role' }, ...roles.map((r) => ({ value: r, label: r }))]} onChange={(role) => set({ ...f, role })} />
      <Choice label="Label" value={f.label} options={[{ value: '', label: 'any label' }, ...labels.map((l) => ({ value: l, label: l }))]} onChange={(label) => set({ ...f, label })} />
      <Choice label="State" value={f.state} options={STATE_FILTERS} onChange={(state) => set({ ...f, state: state as StateFilter })} />
      <button type="button" onClick={() => set(NO_FILTER)} disabled={!f.text && !f.role && !f.label && !f.state}>
        Clear
      </button>
      <output aria-live="polite">
        {shown} of {total} nodes
      </output>
    </form>
  );
}

function App() {
  useLive();
  const now = useNow(5000);
  const [filter, setFilterState] = useState<Filter>(readFilter);
  const [selected, setSelected] = useState<string | undefined>();
  // One function for the page's life: a new one each render would make every row render again.
  const toggle = useCallback((n: string) => setSelected((s) => (s === n ? undefined : n)), []);
  const setFilter = (f: Filter) => {
    setFilterState(f);
    writeFilter(f);
  };
  const all = live.fleet.list();
  const nodes = useMemo(() => all.filter((n) => matches(n, filter)), [all, filter]);
  const facets = live.fleet.facets();
  const counts = live.fleet.counts();
  const who = live.whoami;
  const shown = live.shown;
  const detail = selected ? live.fleet.get(selected) : undefined;

  if (live.fatal)
    return (
      <main>
        <h1>muster</h1>
        <p class="error" role="alert">
          {live.fatal}
        </p>
      </main>
    );
  return (
    <>
      <header class="top">
        <h1>muster</h1>
        <p class="summary" aria-label="Fleet summary">
          <span>{counts.total} nodes</span>
          <span class="ok">{counts.ready} ready</span>
          {counts.notReady > 0 && <span class="warn">{counts.notReady} not ready</span>}
          {counts.unreachable > 0 && <span class="bad">{counts.unreachable} unreachable</span>}
          {counts.probeFailing > 0 && <span class="warn">{counts.probeFailing} with a failing probe</span>}
          {counts.drifted > 0 && <span>{counts.drifted} with drift</span>}
        </p>
        <p class="who">
          {live.leader && <span title={`store ${live.leader.self.store}`}>{live.leader.self.leader ? 'leader' : `follower${live.leader.leader ? ` of ${live.leader.leader.id}` : ''}`} · </span>}
          {who ? (
            <span>
              {who.cn} ({who.role}
              {who.canWrite ? '' : ', read only'})
            </span>
          ) : (
            'connecting'
          )}
          {' · '}
          <span class={`link-${live.link}`} role="status">
            {live.link === 'live' ? 'live' : live.link === 'connecting' ? 'connecting…' : 'reconnecting…'}
          </span>
        </p>
      </header>
      <main>
        {live.errors.length > 0 && (
          <ul class="error" role="alert">
            {live.errors.map((e) => (
              <li key={e}>{e}</li>
            ))}
          </ul>
        )}
        <section aria-labelledby="rollout-title">
          <h2 id="rollout-title">Rollout</h2>
          {shown ? (
            <RolloutPanel
              record={shown}
              status={live.status?.rollout.id === shown.id ? live.status : undefined}
              canWrite={!!who?.canWrite}
              now={now}
              busy={live.busy}
              error={live.actionError}
              onAction={(a, reason) => void live.act(a, reason)}
            />
          ) : (
            <p class="dim">No rollout has run.</p>
          )}
        </section>
        <section aria-labelledby="fleet-title" class="fleet-section">
          <h2 id="fleet-title">Fleet</h2>
          <Filters f={filter} set={setFilter} roles={facets.roles} labels={facets.labels} shown={nodes.length} total={all.length} />
          <FleetTable nodes={nodes} now={now} flashing={live.flashing()} selected={selected} onSelect={toggle} />
          {detail && <NodeDetail n={detail} now={now} onClose={() => setSelected(undefined)} />}
        </section>
        <section aria-labelledby="drift-title">
          <h2 id="drift-title">Recent drift</h2>
          {live.drift.length ? (
            <ul class="drift-feed" aria-live="polite" aria-label="Recent drift">
              {live.drift.slice(0, 10).map((d, i) => (
                <li key={`${d.node}-${d.atMs}-${i}`}>
                  <strong>{d.node}</strong> {basename(d.path)} {d.what} {ago(d.atMs, now)} ago
                  {d.repaired ? ', repaired' : d.error ? `: ${d.error}` : ', reported'} <span class="dim">{d.path}</span>
                </li>
              ))}
            </ul>
          ) : (
            <p class="dim" aria-live="polite">
              No drift since the controller started.
            </p>
          )}
        </section>
        <section aria-labelledby="history-title">
          <h2 id="history-title">History</h2>
          <HistoryPanel rollouts={live.rollouts} entries={live.history} selected={shown?.id} onSelect={(id) => live.pick(id)} />
        </section>
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
void live.start();
