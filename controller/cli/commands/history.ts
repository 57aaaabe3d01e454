import { listHistory } from '../../app/history.js';
import { EXIT, type GlobalOptions, type Io } from '../io.js';
import { historyTable } from '../rollout-view.js';

export async function run(o: GlobalOptions & { node?: string; limit: number; output: 'table' | 'json' }, io: Io): Promise<number> {
  const entries = await listHistory(o);
  if (o.output === 'json') io.out(JSON.stringify(entries, null, 2));
  else io.out(entries.length ? historyTable(entries) : 'no history yet');
  return EXIT.OK;
}
