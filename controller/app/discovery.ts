import path from 'node:path';
import Fastify from 'fastify';
import { ControllerError } from '../errors.js';
import { ensureOperatorSecret, readOperatorSecret, registerDiscoveryRoutes } from '../discovery/server.js';
import { DiscoveryStore } from '../discovery/store.js';
import { splitListen } from './serve.js';

// The etcd v2 discovery service, for fleets without internet access (etcd --discovery URL).
export async function serveDiscovery(o: { state: string; listen: string; publicUrl?: string }): Promise<{ close(): Promise<void> }> {
  const store = new DiscoveryStore({ persistPath: path.join(o.state, 'discovery.json') });
  const app = Fastify({ logger: false });
  await registerDiscoveryRoutes(app, store, { publicUrl: o.publicUrl, operatorSecret: await ensureOperatorSecret(o.state) });
  await app.listen(splitListen(o.listen));
  return { close: () => app.close() };
}

// A new discovery token (its URL) from a running discovery service.
// Creating tokens takes the operator secret the service keeps in its state folder.
export async function newDiscoveryToken(o: { state: string; server: string; size: number }): Promise<string> {
  const secret = await readOperatorSecret(o.state);
  if (!secret) throw new ControllerError('NO_CREDENTIALS', `no discovery operator secret in ${o.state}: run "muster discovery serve" with this state folder first`);
  const res = await fetch(`${o.server.replace(/\/+$/, '')}/new?size=${o.size}`, { method: 'POST', headers: { authorization: `Bearer ${secret}` } });
  const body = (await res.text()).trim();
  if (!res.ok) throw new Error(`discovery service ${o.server}: ${res.status} ${body}`);
  return body;
}
