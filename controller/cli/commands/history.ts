import { listHistory } from '../../app/history.js';
import { emit } from '../format.js';
import { EXIT, type GlobalOptions, type Io, type OutputFormat } from '../io.js';
import { historyTable } from '../rollout-view.js';

export async function run(o: GlobalOptions & { node?: string; limit: number; output: OutputFormat }, io: Io): Promise<number> {
  const entries = await listHistory(o);
  emit(io, o.output, entries, () => (entries.length ? historyTable(entries) : 'no history yet'));
  return EXIT.OK;
}
