import { takeEtcdSnapshot } from '../../app/etcd.js';
import { EXIT, type GlobalOptions, type Io } from '../io.js';

export async function run(o: GlobalOptions & { node?: string; keep?: number }, io: Io): Promise<number> {
  const { node, snapshot: s, tried } = await takeEtcdSnapshot(o);
  for (const t of tried) io.out(`[etcd] ${t.error}`);
  io.out(`[etcd] snapshot on ${node}: ${s.path} (${s.sizeBytes} bytes, revision ${s.revision}, sha256 ${s.sha256})`);
  return EXIT.OK;
}
