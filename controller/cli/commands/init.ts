import path from 'node:path';
import { init } from '../../app/init.js';
import { EXIT, type GlobalOptions, type Io } from '../io.js';

export async function run(o: GlobalOptions, io: Io): Promise<number> {
  const { dir, created, kept } = await init(o);
  io.out(`[init] fleet PKI in ${dir}: ${created.length} created, ${kept.length} kept`);
  for (const name of created) io.out(`[init]   created ${name}`);
  io.out(`[init] copy to each node: ${path.join(dir, 'ca.crt')} → /etc/muster/pki/ca.crt, ${path.join(dir, 'agents', '<node>.crt')} and .key → /etc/muster/pki/agent.crt and agent.key`);
  return EXIT.OK;
}
