import { clock } from './format.ts';
import { Head } from './parts.tsx';
import type { HistoryEntry, RolloutRecord } from './types.ts';

export function HistoryPanel({ rollouts, entries, selected, onSelect }: { rollouts: RolloutRecord[]; entries: HistoryEntry[]; selected: string | undefined; onSelect(id: string): void }) {
  return (
    <>
      <h3>Rollouts</h3>
      {rollouts.length ? (
        <table class="small">
          <Head cols={['Rollout', 'State', 'Started', 'By', 'Reason']} />
          <tbody>
            {rollouts.map((r) => (
              <tr key={r.id} class={r.id === selected ? 'selected' : ''}>
                <th scope="row">
                  <button type="button" class="link" aria-pressed={r.id === selected} onClick={() => onSelect(r.id)}>
                    {r.id}
                  </button>
                  {r.undoOf && <span class="dim"> undo of {r.undoOf}</span>}
                </th>
                <td>
                  <span class={`badge ${r.state}`}>{r.state}</span>
                </td>
                <td>{clock(r.createdAtMs)}</td>
                <td>
                  {r.operator.user}@{r.operator.host}
                </td>
                <td>{r.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="dim">No rollouts yet.</p>
      )}
      <h3>Actions</h3>
      {entries.length ? (
        <div class="history-box" tabIndex={0} role="region" aria-label="Actions, newest first">
          <table class="small">
            <Head cols={['When', 'Who', 'Action', 'Subject', 'Node', 'Result', 'Generation', 'Detail']} />
            <tbody>
              {entries.map((e) => (
                <tr key={e.seq}>
                  <td>{clock(e.atMs)}</td>
                  <td>
                    {e.operator.user}@{e.operator.host}
                  </td>
                  <td>{e.action}</td>
                  <td>{e.subject}</td>
                  <td>{e.node || '-'}</td>
                  <td>{e.result}</td>
                  <td class="num">{e.generationBefore || e.generationAfter ? `${e.generationBefore} → ${e.generationAfter}` : '-'}</td>
                  <td>{e.detail}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p class="dim">No actions recorded.</p>
      )}
    </>
  );
}
