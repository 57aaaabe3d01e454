import type { DriftEvent } from '../../proto/gen/muster/agent/v1/agent.js';
import { buildApi } from '../api/server.js';
import { watchFleet, type FleetOptions } from './status.js';

export interface Listening {
  nodes: number;
  close(): Promise<void>;
}

export function splitListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i), port: Number(listen.slice(i + 1)) };
}

// The long-running controller: watches every agent and serves the fleet's state over HTTP.
export async function serve(o: FleetOptions & { listen: string; onDrift?: (node: string, d: DriftEvent) => void }): Promise<Listening> {
  // The API is built on the monitor and counts the monitor's drift events.
  const late: { api?: ReturnType<typeof buildApi> } = {};
  const watch = await watchFleet(o, {
    drift: (node, d) => {
      late.api?.driftCounter.inc({ node, repaired: String(d.repaired) });
      o.onDrift?.(node, d);
    },
  });
  const api = buildApi(watch.monitor);
  late.api = api;
  await api.app.listen(splitListen(o.listen));
  return {
    nodes: watch.inv.nodes.length,
    close: async () => {
      watch.stop();
      await api.app.close();
    },
  };
}
