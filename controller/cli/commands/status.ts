import { status, watchFleet } from '../../app/status.js';
import { VIEW_HEADERS, WIDE_VIEW_HEADERS, viewJson, viewRow, type NodeView } from '../../fleet/view.js';
import { emit } from '../format.js';
import { EXIT, untilSignal, type GlobalOptions, type Io, type OutputFormat } from '../io.js';
import { table } from '../output.js';
import { withRemote } from '../remote.js';
import { selectNodes } from '../../app/limit.js';
import type { RemoteController } from '../../app/remote.js';

type StatusFlags = GlobalOptions & { concurrency: number; output: OutputFormat; watch?: boolean; limit?: string };

const viewTable = (views: NodeView[], wide: boolean) => {
  const now = Date.now();
  return table(wide ? WIDE_VIEW_HEADERS : VIEW_HEADERS, views.map((v) => viewRow(v, now, wide)));
};

// Exit 0 every node answered, 1 one did not.
export async function run(o: StatusFlags, io: Io): Promise<number> {
  if (o.controller) return withRemote({ ...o, controller: o.controller }, (r) => remote(o, io, r));
  if (o.watch) return watch(o, io);
  return printViews(o, io, (await status(o)).views);
}

// One look: the table (or JSON), exit 0 every node answered, 1 one did not.
function printViews(o: StatusFlags, io: Io, views: NodeView[]): number {
  emit(io, o.output, views.map(viewJson), (wide) => viewTable(views, wide));
  return views.every((v) => v.status) ? EXIT.OK : EXIT.FAILED;
}

// Through muster serve: the views its monitor holds, printed the same way; --watch reads them again every second.
async function remote(o: StatusFlags, io: Io, r: RemoteController): Promise<number> {
  const read = async () => {
    const views = await r.views();
    if (o.limit === undefined) return views;
    const chosen = new Set(selectNodes(views.map((v) => v.node), o.limit).map((n) => n.name));
    return views.filter((v) => chosen.has(v.node.name));
  };
  if (!o.watch) return printViews(o, io, await read());
  let latest: NodeView[] = await read();
  const draw = drawer(o, io, () => latest);
  draw();
  const timer = setInterval(() => void read().then((v) => ((latest = v), draw()), () => undefined), 1000);
  await untilSignal();
  clearInterval(timer);
  return EXIT.OK;
}

// Redraws the table when it changed.
function drawer(o: StatusFlags, io: Io, views: () => NodeView[]): () => void {
  let drawn = '';
  return () => {
    const text = viewTable(views(), o.output === 'wide');
    if (text === drawn) return;
    drawn = text;
    if (io.tty) io.write('\x1b[2J\x1b[H');
    io.out(`muster status --watch  ${new Date().toISOString()}  (Ctrl-C to stop)\n${text}\n`);
  };
}

// A live view fed by every agent's status stream; the table is redrawn on every change.
async function watch(o: StatusFlags, io: Io): Promise<number> {
  let views: () => NodeView[] = () => [];
  const draw = drawer(o, io, () => views());
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
