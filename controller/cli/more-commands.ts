import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { buildApi } from '../api/server.js';
import { Fleet } from '../fleet/fleet.js';
import { FleetMonitor } from '../fleet/monitor.js';
import { ClusterPki } from '../pki/cluster.js';
import { readFleetCredentials } from '../pki/fleet.js';
import { registerDiscoveryRoutes } from '../discovery/server.js';
import { DiscoveryStore } from '../discovery/store.js';
import { loadInventory } from '../inputs/inventory.js';
import { EXIT, renderAll, type GlobalOptions } from './commands.js';
import { table } from './output.js';

const printer = (o: GlobalOptions) => o.out ?? ((line: string) => process.stdout.write(line + '\n'));

// Loads and renders everything, as plan would, without contacting an agent or touching the
// state folder: certificates are issued into a throw-away folder.
export async function validateCommand(o: GlobalOptions & { tasks?: string; cluster?: string }): Promise<number> {
  const print = printer(o);
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-validate-'));
  try {
    const { inv, plans } = await renderAll({ ...o, state: scratch });
    print(table(['NODE', 'ROLES', 'TASKS', 'HANDLERS', 'REVISION'], plans.map((p) => {
      const node = inv.nodes.find((n) => n.name === p.node)!;
      return [p.node, node.roles.join(','), String(p.tasks.length), String(p.handlers.length), p.revision];
    })));
    print(`\n[validate] ${[o.inventory, o.cluster, o.tasks].filter(Boolean).join(', ')}: valid; ${plans.length} node plans, every manifest checked`);
    return EXIT.OK;
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

export async function certsCheckCommand(o: GlobalOptions & { json?: boolean; warnDays: number }): Promise<number> {
  const print = printer(o);
  const inv = await loadInventory(o.inventory);
  const list = await new ClusterPki(o.state, inv.cluster).list();
  if (o.json) {
    print(JSON.stringify(list.map((c) => ({ name: c.name, ca: c.ca, subject: c.info.subject, notAfter: c.info.notAfter.toISOString(), daysLeft: c.info.daysLeft })), null, 2));
  } else if (!list.length) {
    print(`[certs] no cluster certificates in ${o.state} yet: they are issued by the first plan or apply`);
  } else {
    print(table(['CERTIFICATE', 'EXPIRES', 'DAYS LEFT', 'CA', 'SUBJECT'], list.map((c) => [
      c.name,
      c.info.notAfter.toISOString().slice(0, 10),
      `${c.info.daysLeft}${c.info.daysLeft < o.warnDays ? ' !' : ''}`,
      c.ca,
      c.info.subject,
    ])));
  }
  return list.some((c) => c.info.daysLeft < 0) ? EXIT.FAILED : EXIT.OK;
}

export async function certsRenewCommand(o: GlobalOptions & { within?: number }): Promise<number> {
  const print = printer(o);
  const inv = await loadInventory(o.inventory);
  const renewed = await new ClusterPki(o.state, inv.cluster).renew(o.within);
  for (const name of renewed) print(`[certs] renewed ${name}`);
  print(`[certs] ${renewed.length} certificate(s) renewed${o.within !== undefined ? ` (those with fewer than ${o.within} days left)` : ''}; run "muster apply" to roll them out`);
  return EXIT.OK;
}

// The etcd v2 discovery service, for fleets without internet access (etcd --discovery URL).
export async function discoveryServeCommand(o: GlobalOptions & { listen: string; publicUrl?: string }): Promise<number> {
  const print = printer(o);
  const store = new DiscoveryStore({ persistPath: path.join(o.state, 'discovery.json') });
  const app = Fastify({ logger: false });
  await registerDiscoveryRoutes(app, store, { publicUrl: o.publicUrl });
  const i = o.listen.lastIndexOf(':');
  await app.listen({ host: o.listen.slice(0, i), port: Number(o.listen.slice(i + 1)) });
  print(`[discovery] serving etcd v2 discovery on http://${o.listen}; new tokens: muster discovery new --size 3 --server http://${o.listen}`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await app.close();
  return EXIT.OK;
}

export async function discoveryNewCommand(o: GlobalOptions & { size: number; server: string }): Promise<number> {
  const print = printer(o);
  const res = await fetch(`${o.server.replace(/\/+$/, '')}/new?size=${o.size}`, { method: 'POST' });
  const body = (await res.text()).trim();
  if (!res.ok) throw new Error(`discovery service ${o.server}: ${res.status} ${body}`);
  print(body);
  return EXIT.OK;
}

// The long-running controller: watches every agent and serves the fleet's state over HTTP.
export async function serveCommand(o: GlobalOptions & { listen: string }): Promise<number> {
  const print = printer(o);
  const inv = await loadInventory(o.inventory);
  const fleet = new Fleet(inv.nodes, await readFleetCredentials(o.state));
  // The API is built on the monitor and counts the monitor's drift events.
  const late: { api?: ReturnType<typeof buildApi> } = {};
  const monitor = new FleetMonitor(fleet, inv, {
    drift: (node, d) => {
      late.api?.driftCounter.inc({ node, repaired: String(d.repaired) });
      print(`[drift] ${node}: ${d.path} ${d.what}${d.repaired ? ', repaired' : ''}${d.error ? `: ${d.error}` : ''}`);
    },
  });
  const api = buildApi(monitor);
  late.api = api;
  monitor.start();
  const i = o.listen.lastIndexOf(':');
  await api.app.listen({ host: o.listen.slice(0, i), port: Number(o.listen.slice(i + 1)) });
  print(`[serve] watching ${inv.nodes.length} agents; http://${o.listen}/v1/fleet, /v1/nodes/<name>, /metrics, /healthz`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  monitor.stop();
  await api.app.close();
  fleet.close();
  return EXIT.OK;
}
