import path from 'node:path';
import { ControllerError } from '../errors.js';
import { soleLeader, type Leadership } from '../ha/leadership.js';
import { openStore } from './sqlite.js';
import type { Store } from './store.js';

// Where the controller keeps its memory: the state folder's SQLite file (embedded, one
// controller), or an etcd cluster shared by several `muster serve` processes (HA).
export interface StoreSpec {
  // "sqlite" (default: <state>/muster.db) or "etcd://host:port[,host:port...]".
  url?: string;
  // TLS client credentials for etcd (PEM files).
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  // Key prefix in etcd, so one etcd can hold several fleets (default "/muster/").
  prefix?: string;
}

export interface Backing {
  store: Store;
  leadership: Leadership;
  // For logs and the dashboard: "sqlite <file>" or "etcd <endpoints>".
  describe: string;
  close(): Promise<void>;
}

export async function openBacking(state: string, spec: StoreSpec = {}, self: { id: string; url?: string }): Promise<Backing> {
  const url = spec.url ?? 'sqlite';
  if (url === 'sqlite') {
    const store = openStore(state);
    const leadership = soleLeader(self);
    return {
      store,
      leadership,
      describe: `sqlite ${path.join(state, 'muster.db')}`,
      close: async () => {
        await leadership.close();
        store.close();
      },
    };
  }
  throw new ControllerError('STORE_URL', `--store ${url}: give "sqlite" or "etcd://host:port[,host:port...]"`);
}
