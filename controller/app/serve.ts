import { isIP } from 'node:net';
import os from 'node:os';
import type { DriftEvent } from '../../proto/gen/muster/agent/v1/agent.js';
import { buildApi, type ApiTls } from '../api/server.js';
import { Enrollment, loadRevocations, readTrust, startEnrollServer, type ApprovalPolicy, type EnrollServer } from '../enroll/index.js';
import { loadInventory } from '../inputs/inventory.js';
import { ensureServerCert } from '../pki/fleet.js';
import { openBacking, type Backing, type StoreSpec } from '../store/open.js';
import type { Leadership } from '../ha/leadership.js';
import { heldContext } from './context.js';
import { ControllerEvents, observedStore } from './events.js';
import { Jobs } from './jobs.js';
import { ControllerService } from './service.js';
import { watchFleet, type FleetOptions } from './status.js';

export interface Listening {
  nodes: number;
  // Where the API answers (the port the system gave for :0).
  url: string;
  // This controller's identity and its store, as GET /v1/leader names them.
  id: string;
  store: string;
  // The enrollment port, when it runs.
  enroll?: { port: number; caCertHash: string };
  close(): Promise<void>;
}

export function splitListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(listen.slice(i + 1)) };
}

export interface ServeOptions extends FleetOptions {
  listen: string;
  // The controller's memory (default: the state folder's SQLite file).
  store?: StoreSpec;
  // This process in the leader election (default host:pid).
  id?: string;
  // More names and addresses clients dial the API by, for its certificate.
  sans?: string[];
  // The enrollment service (Join, Renew, GetTrust); false: none.
  // sans: names and addresses agents dial it by (default: what the listen address implies).
  enroll?: false | { listen: string; policy?: ApprovalPolicy; sans?: string[] };
  onDrift?: (node: string, d: DriftEvent) => void;
  log?: { warn(o: object, msg: string): void; info(o: object, msg: string): void };
  // How often a leader with no job looks for a rollout left running with no runner (default 15 s).
  sweepMs?: number;
}

// The names and addresses a joining agent may dial, for the enrollment server certificate (the
// agent checks the name it dialled): a wildcard bind means this host's name and every address.
export function enrollSans(host: string, given: string[] = []): { dnsNames: string[]; ipAddresses: string[] } {
  const all = new Set(['localhost', '127.0.0.1', ...given]);
  if (host === '0.0.0.0' || host === '::' || host === '') {
    all.add(os.hostname());
    for (const a of Object.values(os.networkInterfaces()).flat()) if (a && !a.address.includes('%')) all.add(a.address);
  } else all.add(host);
  const list = [...all];
  return { dnsNames: list.filter((n) => !isIP(n)), ipAddresses: list.filter((n) => isIP(n)) };
}

// The long-running controller: watches every agent, serves the fleet's state and its jobs over
// HTTPS with mutual TLS, and enrolls new nodes on its own port.
// (The controller's own certificate is renewed when due by fleetCredentials, under watchFleet.)
export async function serve(o: ServeOptions): Promise<Listening> {
  let enroll: EnrollServer | undefined;
  let revocations: { has(serial: string): boolean; load(): Promise<unknown> };
  let reload: NodeJS.Timeout | undefined;
  if (o.enroll) {
    const at = splitListen(o.enroll.listen);
    // Read again at most once a second: an edited inventory applies without a restart, and a
    // burst of joins shares one read.
    let read: { at: number; nodes: ReturnType<typeof loadNodes> } | undefined;
    const loadNodes = async () => (await loadInventory(o.inventory)).nodes;
    const nodes = () => {
      if (!read || Date.now() - read.at > 1000) read = { at: Date.now(), nodes: loadNodes() };
      return read.nodes;
    };
    const enrollment = new Enrollment({ stateDir: o.state, nodes, policy: o.enroll.policy });
    enroll = await startEnrollServer({ enrollment, listen: at, ...enrollSans(at.host, o.enroll.sans), log: o.log });
    // The enrollment service reloads this list every few seconds: a revocation reaches the watch too.
    revocations = enrollment.revocations;
  } else {
    revocations = await loadRevocations(o.state);
    reload = setInterval(() => void revocations.load().catch(() => undefined), 5_000);
    reload.unref();
  }
  let backing: Backing | undefined;
  let events: ControllerEvents | undefined;
  try {
    const at = splitListen(o.listen);
    const id = o.id ?? `${os.hostname()}:${process.pid}`;
    const tls = await apiTls(o.state, at.host, o.sans);
    const hostForUrl = at.host.includes(':') ? `[${at.host}]` : at.host;
    backing = await openBacking(o.state, o.store, { id, url: `https://${hostForUrl}:${at.port}` });
    events = new ControllerEvents();
    const bus = events;
    // The API is built on the monitor and counts the monitor's drift events.
    const late: { api?: ReturnType<typeof buildApi> } = {};
    const watch = await watchFleet({ ...o, revoked: revocations }, {
      change: (v) => bus.node(v),
      drift: (node, d) => {
        late.api?.driftCounter.inc({ node, repaired: String(d.repaired) });
        bus.emit('drift', { node, ...d });
        o.onDrift?.(node, d);
      },
    });
    const store = observedStore(backing.store, bus);
    // A stopping controller dispatches nothing more: its runners stop as if the leadership went.
    let stopping = false;
    const held = backing;
    const leadership: Leadership = {
      isLeader: () => !stopping && held.leadership.isLeader(),
      onChange: (fn) => held.leadership.onChange(fn),
      leader: () => held.leadership.leader(),
      close: () => held.leadership.close(),
    };
    const jobs = new Jobs(bus);
    const service = new ControllerService({ state: o.state, inventory: o.inventory, ctx: heldContext(store, watch.fleet), leadership, jobs });
    const api = buildApi({ monitor: watch.monitor, store, leadership, self: { id, store: held.describe }, events: bus, revoked: revocations, service }, tls);
    late.api = api;
    await api.app.listen(at).catch((err: unknown) => {
      watch.stop();
      throw err;
    });
    const port = (api.app.server.address() as { port: number }).port;
    const say = (msg: string) => o.log?.info({}, msg);
    // A CA rotation step (muster ca rotate) reaches the API within seconds, as it does the enrollment port.
    let serving = tls;
    const retrust = setInterval(() => void apiTls(o.state, at.host, o.sans).then((next) => {
      if (next.ca === serving.ca && next.cert === serving.cert) return;
      serving = next;
      api.app.server.setSecureContext({ cert: next.cert, key: next.key, ca: next.ca });
      say('fleet CA bundle or API certificate changed: serving with the new one');
    }, () => undefined), 5_000);
    retrust.unref();
    const unwatch = held.leadership.onChange((leader) => {
      if (leader && !stopping) void service.takeOver(say);
      else if (!leader) say('leadership lost: dispatching stops; the new leader resumes from the journal');
    });
    // A runner stopped by a store outage, or a CLI killed mid-rollout, leaves a rollout running
    // with no one driving it: while this process leads and runs no job, it takes such rollouts up.
    const said = new Set<string>();
    const once = (msg: string) => {
      if (said.has(msg)) return;
      if (said.size > 100) said.clear();
      said.add(msg);
      say(msg);
    };
    const sweep = setInterval(() => {
      if (stopping || !held.leadership.isLeader() || jobs.running()) return;
      void service.takeOver(once).catch((err: unknown) => once(`looking for rollouts left running: ${(err as Error).message}`));
    }, o.sweepMs ?? 15_000);
    sweep.unref();
    return {
      nodes: watch.inv.nodes.length,
      url: `https://${hostForUrl}:${port}`,
      id,
      store: held.describe,
      enroll: enroll && { port: enroll.port, caCertHash: enroll.caCertHash },
      close: async () => {
        stopping = true;
        unwatch();
        clearInterval(sweep);
        clearInterval(reload);
        clearInterval(retrust);
        // The nodes in flight finish their step; nothing more is sent.
        await jobs.idle();
        watch.stop();
        await Promise.all([api.app.close(), enroll?.stop()]);
        bus.close();
        await held.close();
      },
    };
  } catch (err) {
    clearInterval(reload);
    events?.close();
    await backing?.close();
    await enroll?.stop();
    throw err;
  }
}

// The API's server certificate from the fleet CA, for the names and addresses it listens on,
// and the bundle client certificates must chain to.
async function apiTls(state: string, host: string, sans?: string[]): Promise<ApiTls> {
  const { ca, bundle } = await readTrust(state);
  const server = await ensureServerCert(state, 'api-server', ca, enrollSans(host, sans));
  return { cert: server.certPem + ca.certPem, key: server.keyPem, ca: bundle };
}
