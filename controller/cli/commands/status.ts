import { status, watchFleet } from '../../app/status.js';
import { VIEW_HEADERS, WIDE_VIEW_HEADERS, viewJson, viewRow, type NodeView } from '../../fleet/view.js';
import { emit } from '../format.js';
import { EXIT, untilSignal, type GlobalOptions, type Io, type OutputFormat } from '../io.js';
import { table } from '../output.js';

type StatusFlags = GlobalOptions & { concurrency: number; output: OutputFormat; watch?: boolean; limit?: string };

const viewTable = (views: NodeView[], wide: boolean) => {
  const now = Date.now();
  return table(wide ? WIDE_VIEW_HEADERS : VIEW_HEADERS, views.map((v) => viewRow(v, now, wide)));
};

// Exit 0 every node answered, 1 one did not.
export async function run(o: StatusFlags, io: Io): Promise<number> {
  if (o.watch) return watch(o, io);
  const { views } = await status(o);
  emit(io, o.output, views.map(viewJson), (wide) => viewTable(views, wide));
  return views.every((v) => v.status) ? EXIT.OK : EXIT.FAILED;
}

// A live view fed by every agent's status stream; the table is redrawn on every change.
async function watch(o: StatusFlags, io: Io): Promise<number> {
  let drawn = '';
  let views: () => NodeView[] = () => [];
  const draw = () => {
    const text = viewTable(views(), o.output === 'wide');
    if (text === drawn) return;
    drawn = text;
    if (io.tty) io.write('\x1b[2J\x1b[H');
    io.out(`muster status --watch  ${new Date().toISOString()}  (Ctrl-C to stop)\n${text}\n`);
  };
  const w = await watchFleet(o, {
    change: () => draw(),
    drift: (node, d) => {
      if (!io.tty) io.out(`[drift] ${node}: ${d.path} ${d.what}${d.repaired ? `, repaired in ${Math.round(d.repairUs / 1000)} ms` : d.error ? `: ${d.error}` : ', reported'}`);
    },
  });
  views = () => [...w.monitor.views.values()];
  draw();
  await untilSignal();
  w.stop();
  return EXIT.OK;
}
