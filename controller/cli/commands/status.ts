import { status, watchFleet } from '../../app/status.js';
import { VIEW_HEADERS, viewJson, viewRow, type NodeView } from '../../fleet/view.js';
import { EXIT, untilSignal, type GlobalOptions, type Io } from '../io.js';
import { table } from '../output.js';

export async function run(o: GlobalOptions & { concurrency: number; json?: boolean; watch?: boolean }, io: Io): Promise<number> {
  if (o.watch) return watch(o, io);
  const { views } = await status(o);
  if (o.json) io.out(JSON.stringify(views.map(viewJson), null, 2));
  else io.out(table(VIEW_HEADERS, views.map(viewRow)));
  return views.every((v) => v.status) ? EXIT.OK : EXIT.FAILED;
}

// A live view fed by every agent's status stream; the table is redrawn on every change.
async function watch(o: GlobalOptions, io: Io): Promise<number> {
  const tty = process.stdout.isTTY;
  let drawn = '';
  let views: () => NodeView[] = () => [];
  const draw = () => {
    const text = table(VIEW_HEADERS, views().map(viewRow));
    if (text === drawn) return;
    drawn = text;
    if (tty) process.stdout.write('\x1b[2J\x1b[H');
    io.out(`muster status --watch  ${new Date().toISOString()}  (Ctrl-C to stop)\n${text}\n`);
  };
  const w = await watchFleet(o, {
    change: () => draw(),
    drift: (node, d) => {
      if (!tty) io.out(`[drift] ${node}: ${d.path} ${d.what}${d.repaired ? `, repaired in ${Math.round(d.repairUs / 1000)} ms` : d.error ? `: ${d.error}` : ', reported'}`);
    },
  });
  views = () => [...w.monitor.views.values()];
  draw();
  await untilSignal();
  w.stop();
  return EXIT.OK;
}
