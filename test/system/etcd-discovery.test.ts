// A real three-member etcd 3.4 cluster bootstraps with --discovery against muster's discovery
// server on loopback, as an offline fleet would instead of discovery.etcd.io.
// Needs Debian packages etcd-server and etcd-client; skips only when `etcd` is absent.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import Fastify from 'fastify';
import { registerDiscoveryRoutes } from '../../controller/discovery/server.js';
import { DiscoveryStore } from '../../controller/discovery/store.js';
import {
  etcdctl,
  findBinary,
  findFreePorts,
  sleep,
  startEtcdMember,
  stopEtcdMember,
  waitForExit,
  waitForHealth,
  waitForPortsClosed,
  type EtcdMember,
} from './helpers/etcd.js';

const NAMES = ['infra0', 'infra1', 'infra2'];

test('etcd 3.4 bootstraps a 3-member cluster through muster discovery', { timeout: 180_000 }, async (t) => {
  if (!findBinary('etcd')) {
    t.skip('etcd not installed');
    return;
  }
  assert.ok(findBinary('etcdctl'), 'etcdctl is missing: apt-get install -y etcd-client');

  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-etcd-discovery-'));
  const members: EtcdMember[] = [];
  const store = new DiscoveryStore({ persistPath: path.join(tmp, 'discovery.json') });
  // A short maxWait makes the first member's watch expire and be re-issued by etcd's client at least once.
  const app = Fastify();
  await registerDiscoveryRoutes(app, store, { maxWaitMs: 1000, operatorSecret: 'system-test-operator' });
  const [discoveryPort, ...ports] = await findFreePorts(1 + 2 * (NAMES.length + 1));
  t.after(async () => {
    await Promise.allSettled(members.map((m) => stopEtcdMember(m)));
    await app.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });
  await app.listen({ host: '127.0.0.1', port: discoveryPort });

  const created = await fetch(`http://127.0.0.1:${discoveryPort}/new?size=${NAMES.length}`, { method: 'POST', headers: { authorization: 'Bearer system-test-operator' } });
  assert.equal(created.status, 200);
  const discoveryUrl = await created.text();
  const token = discoveryUrl.split('/').pop() ?? '';
  assert.equal(discoveryUrl, `http://127.0.0.1:${discoveryPort}/${token}`);

  const start = (name: string, i: number) =>
    startEtcdMember({
      name,
      dataDir: path.join(tmp, name),
      clientPort: ports[2 * i],
      peerPort: ports[2 * i + 1],
      args: [`--discovery=${discoveryUrl}`, '--discovery-fallback=exit'],
    });

  for (const [i, name] of NAMES.entries()) {
    members.push(start(name, i));
    // Stagger starts so early members really park in a long poll waiting for the others.
    if (i < NAMES.length - 1) await sleep(1500);
  }
  await Promise.all(members.map((m) => waitForHealth(m, { timeoutMs: 90_000 })));

  // Every member registered exactly once, as "<name>=<peer URL>".
  const info = store.tokenInfo(token);
  assert.equal(info?.members.length, NAMES.length);
  assert.deepEqual(
    info?.members.map((m) => m.value).sort(),
    members.map((m) => `${m.name}=${m.peerUrl}`).sort(),
  );
  for (const m of info?.members ?? []) assert.match(m.id, /^[0-9a-f]{1,16}$/);

  const endpoints = members.map((m) => m.clientUrl);
  const list = JSON.parse(await etcdctl(endpoints, ['member', 'list', '-w', 'json'])) as {
    members: { name: string; peerURLs: string[]; clientURLs: string[] }[];
  };
  assert.equal(list.members.length, NAMES.length);
  assert.deepEqual(list.members.map((m) => m.name).sort(), [...NAMES].sort());
  for (const m of members) {
    const listed = list.members.find((x) => x.name === m.name);
    assert.deepEqual(listed?.peerURLs, [m.peerUrl]);
    assert.deepEqual(listed?.clientURLs, [m.clientUrl]);
  }

  // The cluster really replicates: write through one member, read through another.
  await etcdctl([members[0].clientUrl], ['put', '/muster/discovery', token]);
  const got = await etcdctl([members[2].clientUrl], ['get', '/muster/discovery', '--print-value-only']);
  assert.equal(got.trim(), token);

  // A fourth member with the same token finds the cluster full and exits without registering.
  const extra = start('infra3', NAMES.length);
  members.push(extra);
  const exit = await waitForExit(extra, 30_000);
  assert.ok(exit, `extra member should exit on a full cluster:\n${extra.logs()}`);
  assert.notEqual(exit.code, 0);
  assert.match(extra.logs(), /cluster is full/);
  assert.equal(store.tokenInfo(token)?.members.length, NAMES.length);

  // Stop every member by pid and prove its ports are closed before the folders go.
  for (const m of members) await stopEtcdMember(m);
  for (const m of members) assert.notEqual(m.exitCode(), undefined);
  await waitForPortsClosed('127.0.0.1', members.flatMap((m) => [m.clientPort, m.peerPort]));
});
