import { facts } from '../../app/facts.js';
import { EXIT, type GlobalOptions, type Io } from '../io.js';

export async function run(o: GlobalOptions & { node: string; refresh: boolean }, io: Io): Promise<number> {
  io.out(JSON.stringify(await facts(o), null, 2));
  return EXIT.OK;
}
