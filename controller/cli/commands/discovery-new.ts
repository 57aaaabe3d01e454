import { newDiscoveryToken } from '../../app/discovery.js';
import { EXIT, type Io } from '../io.js';

export async function run(o: { state: string; size: number; server: string }, io: Io): Promise<number> {
  io.out(await newDiscoveryToken(o));
  return EXIT.OK;
}
