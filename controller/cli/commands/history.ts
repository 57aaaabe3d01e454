import { listHistory } from '../../app/history.js';
import { emit } from '../format.js';
import { withRemote } from '../remote.js';
import { EXIT, type GlobalOptions, type Io, type OutputFormat } from '../io.js';
import { historyTable } from '../rollout-view.js';

export async function run(o: GlobalOptions & { node?: string; limit: number; output: OutputFormat }, io: Io): Promise<number> {
  const entries = o.controller ? await withRemote({ ...o, controller: o.controller }, (r) => r.history(o)) : await listHistory(o);
  emit(io, o.output, entries, () => (entries.length ? historyTable(entries) : 'no history yet'));
  return EXIT.OK;
}
