import type { DriftEvent } from '../../proto/gen/muster/agent/v1/agent.js';
import { Fleet, mapLimit } from '../fleet/fleet.js';
import { FleetMonitor } from '../fleet/monitor.js';
import type { NodeView } from '../fleet/view.js';
import { loadInventory, type Inventory } from '../inputs/inventory.js';
import { withContext, type AppContext } from './context.js';
import { fleetCredentials } from './fleet-credentials.js';
import { selectNodes } from './limit.js';

export interface FleetOptions {
  state: string;
  inventory: string;
}

// One GetStatus per agent, at most `concurrency` at once; an unreachable node is a view with its error.
export async function status(o: FleetOptions & { concurrency: number; limit?: string }, ctx?: AppContext): Promise<{ inv: Inventory; views: NodeView[] }> {
  const inv = await loadInventory(o.inventory);
  const nodes = selectNodes(inv.nodes, o.limit);
  return withContext(o.state, ctx, async (c) => {
    const fleet = await c.fleet(inv);
    const views = await mapLimit(nodes, o.concurrency, async (node): Promise<NodeView> => {
      const now = Date.now();
      try {
        return { node, status: (await fleet.client(node).status()).status, updatedAtMs: now };
      } catch (err) {
        return { node, error: (err as Error).message, errorSinceMs: now, updatedAtMs: now };
      }
    });
    return { inv, views };
  });
}

export interface FleetWatch {
  inv: Inventory;
  monitor: FleetMonitor;
  // The monitor's fleet: its channels stay open until stop().
  fleet: Fleet;
  stop(): void;
}

// A live view fed by every agent's status stream, until stop().
export async function watchFleet(o: FleetOptions & { limit?: string; revoked?: { has(serial: string): boolean } }, on: { change?: (v: NodeView) => void; drift?: (node: string, d: DriftEvent) => void }): Promise<FleetWatch> {
  const all = await loadInventory(o.inventory);
  const inv = { ...all, nodes: selectNodes(all.nodes, o.limit) };
  const fleet = new Fleet(inv.nodes, await fleetCredentials(o.state, o.revoked));
  const monitor = new FleetMonitor(fleet, inv, on);
  monitor.start();
  return {
    inv,
    monitor,
    fleet,
    stop: () => {
      monitor.stop();
      fleet.close();
    },
  };
}
