import type { GetFactsResponse } from '../../proto/gen/muster/agent/v1/agent.js';
import { ControllerError } from '../errors.js';
import { loadInventory } from '../inputs/inventory.js';
import { withContext, type AppContext } from './context.js';
import type { FleetOptions } from './status.js';

// The agent's facts about its machine (cached by the agent unless refresh).
export async function facts(o: FleetOptions & { node: string; refresh: boolean }, ctx?: AppContext): Promise<GetFactsResponse['facts']> {
  const inv = await loadInventory(o.inventory);
  const node = inv.nodes.find((n) => n.name === o.node);
  if (!node) throw new ControllerError('UNKNOWN_NODE', `node ${o.node} is not in ${inv.file}`);
  return withContext(o.state, ctx, async (c) => (await (await c.fleet(inv)).client(node).facts(o.refresh)).facts);
}
