import { connectController, type RemoteController } from '../app/remote.js';
import type { GlobalOptions } from './io.js';

// Runs fn on muster serve's API when --controller (or the config's controller:) names one.
export async function withRemote<T>(o: GlobalOptions & { controller: string }, fn: (r: RemoteController) => Promise<T>): Promise<T> {
  const r = await connectController(o);
  try {
    return await fn(r);
  } finally {
    r.close();
  }
}
