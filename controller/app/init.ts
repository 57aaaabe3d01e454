import { loadInventory } from '../inputs/inventory.js';
import { fleetStore, initFleet, type FleetInit } from '../pki/fleet.js';
import type { FleetOptions } from './status.js';

// The fleet CA, the controller's client certificate and one certificate per agent; keeps what exists.
export async function init(o: FleetOptions): Promise<FleetInit & { dir: string }> {
  const inv = await loadInventory(o.inventory);
  return { ...(await initFleet(o.state, inv)), dir: fleetStore(o.state).dir };
}
