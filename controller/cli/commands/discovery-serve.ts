import { serveDiscovery } from '../../app/discovery.js';
import { EXIT, untilSignal, type GlobalOptions, type Io } from '../io.js';

export async function run(o: GlobalOptions & { listen: string; publicUrl?: string }, io: Io): Promise<number> {
  const server = await serveDiscovery(o);
  io.out(`[discovery] serving etcd v2 discovery on http://${o.listen}; new tokens: muster discovery new --size 3 --server http://${o.listen}`);
  await untilSignal();
  await server.close();
  return EXIT.OK;
}
