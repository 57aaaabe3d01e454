import { serve } from '../../app/serve.js';
import { EXIT, untilSignal, type GlobalOptions, type Io } from '../io.js';

export async function run(o: GlobalOptions & { listen: string }, io: Io): Promise<number> {
  const server = await serve({ ...o, onDrift: (node, d) => io.out(`[drift] ${node}: ${d.path} ${d.what}${d.repaired ? ', repaired' : ''}${d.error ? `: ${d.error}` : ''}`) });
  io.out(`[serve] watching ${server.nodes} agents; http://${o.listen}/v1/fleet, /v1/nodes/<name>, /metrics, /healthz`);
  await untilSignal();
  await server.close();
  return EXIT.OK;
}
