import fs from 'node:fs';
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
  // TLS for etcd (PEM files): the CA that signed the members' certificates and this
  // controller's client certificate. Default: the fleet CA and the controller's own certificate
  // in the state folder (pki/fleet/ca.crt, controller.crt, controller.key).
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  // Key prefix in etcd, so one etcd can hold several fleets (default "/muster/").
  prefix?: string;
  // The leader lease's TTL in seconds (default 10): how long a dead leader holds on.
  leaseTtlS?: number;
}

export interface Backing {
  store: Store;
  leadership: Leadership;
  // For logs and the dashboard: "sqlite <file>" or "etcd <endpoints>".
  describe: string;
  close(): Promise<void>;
}

// log: where the leader election reports stepping down and leading (default: stderr).
export async function openBacking(state: string, spec: StoreSpec = {}, self: { id: string; url?: string }, log: (msg: string) => void = stderrLine): Promise<Backing> {
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
  if (url.startsWith('etcd://')) return openEtcd(state, parseEtcdUrl(url), spec, self, log);
  throw new ControllerError('STORE_URL', `--store ${url}: give "sqlite" or "etcd://host:port[,host:port...]"`);
}

// etcd://host:port[,host:port...] → the https endpoints (etcd is always spoken to over TLS).
export function parseEtcdUrl(url: string): string[] {
  const list = url.slice('etcd://'.length).replace(/\/$/, '');
  const endpoints = list.split(',').map((hp) => hp.trim());
  for (const hp of endpoints) {
    const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(hp);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new ControllerError('STORE_URL', `--store ${url}: "${hp}" is not host:port`);
  }
  return endpoints.map((hp) => `https://${hp}`);
}

function readPem(what: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new ControllerError('STORE_TLS', `etcd ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (give --store-${what}, or run "muster init" for the fleet's own)`);
  }
}

function stderrLine(msg: string): void {
  process.stderr.write(`[leader] ${msg}\n`);
}

async function openEtcd(state: string, endpoints: string[], spec: StoreSpec, self: { id: string; url?: string }, log: (msg: string) => void): Promise<Backing> {
  const ttl = spec.leaseTtlS;
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 2 || ttl > 3600)) throw new ControllerError('STORE_URL', `--lease-ttl ${ttl}: give whole seconds from 2 to 3600`);
  if (spec.prefix !== undefined && !/^\/[\x21-\x7e]{0,200}\/$/.test(spec.prefix)) throw new ControllerError('STORE_URL', `--store-prefix ${JSON.stringify(spec.prefix)}: give a key prefix that starts and ends with "/" (printable ASCII, no spaces)`);
  const fleet = path.join(state, 'pki', 'fleet');
  const tls = {
    ca: readPem('ca', spec.caFile ?? path.join(fleet, 'ca.crt')),
    cert: readPem('cert', spec.certFile ?? path.join(fleet, 'controller.crt')),
    key: readPem('key', spec.keyFile ?? path.join(fleet, 'controller.key')),
  };
  // Loaded only here: the embedded store never pays for the etcd client and its protos.
  const [{ EtcdStore, DEFAULT_PREFIX }, { EtcdLeadership }] = await Promise.all([import('./etcd.js'), import('../ha/election.js')]);
  const prefix = spec.prefix ?? DEFAULT_PREFIX;
  const store = new EtcdStore({ endpoints, prefix, ...tls, leaseTtlS: spec.leaseTtlS });
  const leadership = new EtcdLeadership(store, { self, ttlS: spec.leaseTtlS, log });
  try {
    // The campaign key is written before this returns: a wrong certificate fails here.
    await leadership.start();
  } catch (err) {
    await leadership.close();
    await store.closeAsync();
    throw err;
  }
  return {
    store,
    leadership,
    describe: `etcd ${endpoints.join(',')} (prefix ${prefix})`,
    // Both leases are revoked at once: a clean stop hands leadership and locks over together.
    close: async () => {
      await Promise.all([leadership.close(), store.releaseLease()]);
      store.close();
    },
  };
}
