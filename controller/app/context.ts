import { Fleet } from '../fleet/fleet.js';
import type { Inventory } from '../inputs/inventory.js';
import type { FleetCredentials } from '../pki/fleet.js';
import { openStore } from '../store/sqlite.js';
import type { Store } from '../store/store.js';
import { fleetCredentials } from './fleet-credentials.js';

// What a use case (apply, rollout, history...) runs on: the controller's store and the fleet's
// channels. muster serve hands in the ones it holds for its whole life; the CLI without a
// controller makes them for one command and closes them after it.
export interface AppContext {
  store: Store;
  // A fleet over these nodes. serve's keeps its channels open between jobs.
  fleet(inv: Inventory): Promise<Fleet>;
}

type Credentials = (state: string) => Promise<FleetCredentials>;

// The CLI's context: the state folder's store, opened on first use, and fresh channels made
// with `credentials` (default: the trust bundle and the revocation list with the certificate).
export function localContext(state: string, credentials: Credentials = fleetCredentials): AppContext & { close(): void } {
  let store: Store | undefined;
  const fleets: Fleet[] = [];
  return {
    get store() {
      return (store ??= openStore(state));
    },
    async fleet(inv) {
      const f = new Fleet(inv.nodes, await credentials(state));
      fleets.push(f);
      return f;
    },
    close() {
      for (const f of fleets) f.close();
      store?.close();
    },
  };
}

// Runs fn on the given context, or on a local one closed when fn ends.
export async function withContext<T>(state: string, ctx: AppContext | undefined, fn: (ctx: AppContext) => Promise<T>, credentials?: Credentials): Promise<T> {
  if (ctx) return fn(ctx);
  const local = localContext(state, credentials);
  try {
    return await fn(local);
  } finally {
    local.close();
  }
}

// serve's context: one store, one fleet whose channels outlive every job (the monitor's).
export function heldContext(store: Store, fleet: Fleet): AppContext {
  return {
    store,
    fleet: async (inv) => {
      fleet.update(inv.nodes);
      return fleet;
    },
  };
}
