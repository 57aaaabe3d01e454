import { etcdSnapshots } from '../../app/etcd.js';
import { EXIT, type GlobalOptions, type Io } from '../io.js';
import { table } from '../output.js';

export async function run(o: GlobalOptions & { node?: string; json?: boolean }, io: Io): Promise<number> {
  const { rows, errors } = await etcdSnapshots(o);
  if (o.json) {
    io.out(JSON.stringify({ snapshots: rows.map((r) => ({ ...r, createdAt: new Date(r.createdAtMs).toISOString() })), errors }, null, 2));
  } else {
    if (rows.length) {
      io.out(table(['NODE', 'TIME', 'SIZE', 'REVISION', 'SHA256', 'PATH'], rows.map((r) => [r.node, new Date(r.createdAtMs).toISOString(), String(r.sizeBytes), String(r.revision), r.sha256, r.path])));
    } else if (!errors.length) io.out('[etcd] no snapshots yet: `muster etcd snapshot` takes one, and every rollout that changes an etcd member does');
    for (const e of errors) io.out(`[etcd] ${e.error}`);
  }
  return errors.length ? EXIT.FAILED : EXIT.OK;
}
