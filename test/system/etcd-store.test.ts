import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { issueCertificate, createCA } from '../../controller/pki/certs.js';
import { enableAuth, startTestEtcd, type TestEtcd } from '../helpers/etcd-cluster.js';
import { storeContract } from '../helpers/store-contract.js';
import { etcdctl } from './helpers/etcd.js';
import { EtcdStore } from '../../controller/store/etcd.js';
import { openBacking, parseEtcdUrl, type Backing } from '../../controller/store/open.js';

// One real etcd (TLS, client certificates required) for the whole file; each test has a key
// prefix of its own, so the tests share the member without seeing each other's keys.
let etcd: TestEtcd;
before(async () => {
  etcd = await startTestEtcd({ after: () => undefined });
});
after(() => etcd?.stop());

const prefix = () => `/t-${randomBytes(4).toString('hex')}/`;

async function open(t: { after(fn: () => Promise<void> | void): void }, p: string, id: string): Promise<Backing> {
  const b = await openBacking('/nonexistent', { url: `etcd://${etcd.hostPorts.join(',')}`, caFile: etcd.files.ca, certFile: etcd.files.cert, keyFile: etcd.files.key, prefix: p, leaseTtlS: 3 }, { id });
  t.after(() => b.close());
  return b;
}

async function leading(b: Backing): Promise<void> {
  if (b.leadership.isLeader()) return;
  await new Promise<void>((resolve) => {
    const off = b.leadership.onChange((l) => {
      if (!l) return;
      off();
      resolve();
    });
  });
}

storeContract('etcd', {
  open: async (t) => {
    const p = prefix();
    const first = await open(t, p, 'c1');
    await leading(first);
    return { store: first.store, second: async () => (await open(t, p, 'c2')).store };
  },
});

test('etcd: every key lives under the prefix; another prefix sees nothing of it', async (t) => {
  const p = prefix();
  const a = await open(t, p, 'c1');
  await leading(a);
  await a.store.savePlans([{ node: 'n1', revision: 'r', plan: Uint8Array.of(1) }], 1);
  await a.store.createRollout({ id: 'r1', specHash: 'h', options: {}, state: 'running', reason: '', operator: { user: 'u', host: 'h' }, createdAtMs: 1 }, []);
  await a.store.journal({ rolloutId: 'r1', wave: 0, node: 'n1', step: 'dispatched', generation: 1, detail: '', atMs: 1 });
  await a.store.record({ atMs: 1, operator: { user: 'u', host: 'h' }, action: 'apply', subject: 'n1', node: 'n1', result: 'ok', generationBefore: 0, generationAfter: 1, detail: '' });
  const tls = [`--cacert=${etcd.files.ca}`, `--cert=${etcd.files.cert}`, `--key=${etcd.files.key}`];
  const keys = (await etcdctl(etcd.endpoints, [...tls, 'get', '', '--prefix', '--keys-only'])).split('\n').filter(Boolean);
  const ours = keys.filter((k) => k.startsWith(p));
  assert.ok(ours.some((k) => k.startsWith(`${p}plans/n1/`)) && ours.some((k) => k.startsWith(`${p}journal/r1/`)) && ours.some((k) => k.startsWith(`${p}election/leader/`)), ours.join(' '));
  assert.ok(keys.every((k) => k.startsWith('/t-')), `nothing outside the test prefixes: ${keys.filter((k) => !k.startsWith('/t-')).join(' ')}`);
  const b = await open(t, prefix(), 'c2');
  assert.equal(await b.store.latestPlan('n1'), undefined);
  assert.deepEqual(await b.store.rollouts(), []);
  assert.deepEqual(await b.store.history(), []);
});

test('etcd: a deposed leader cannot journal a dispatch: the fence is the leader key', async (t) => {
  const p = prefix();
  const a = await open(t, p, 'c1');
  await leading(a);
  const b = await open(t, p, 'c2');
  assert.equal(b.leadership.isLeader(), false);
  assert.equal((await b.leadership.leader())?.id, 'c1', 'the follower names the leader');
  await a.store.createRollout({ id: 'r1', specHash: 'h', options: {}, state: 'running', reason: '', operator: { user: 'u', host: 'h' }, createdAtMs: 1 }, []);
  const dispatched = { rolloutId: 'r1', wave: 0, node: 'n1', step: 'dispatched' as const, generation: 1, detail: '', atMs: 1 };
  await assert.rejects(b.store.journal(dispatched), { code: 'STORE_FENCED' }, 'a follower never dispatches');
  // The leader's key goes behind its back (as when its lease expires while it is cut off):
  // the next dispatch write is refused by etcd, in the same transaction.
  const a1 = a.store as EtcdStore;
  const fence = a1.currentFence()!;
  const stale = { ...fence };
  a1.setFence(() => stale);
  await a1.ns.delete().key(fence.key).exec();
  await leading(b);
  await assert.rejects(a1.journal(dispatched), { code: 'STORE_FENCED' });
  const results = await Promise.allSettled([a1.journal({ ...dispatched, node: 'n2' }), a1.journal({ ...dispatched, step: 'applied' })]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'fulfilled'], 'in a group commit only the dispatch fails');
  const ok = await b.store.journal({ ...dispatched, node: 'n3' });
  assert.deepEqual((await b.store.entries('r1')).map((e) => [e.seq, e.node, e.step]), [[1, 'n1', 'applied'], [2, 'n3', 'dispatched']]);
  assert.equal(ok.seq, 2);
});

test('etcd: a clean close resigns at once; the follower leads', async (t) => {
  const p = prefix();
  const a = await open(t, p, 'c1');
  await leading(a);
  const b = await open(t, p, 'c2');
  const changes: boolean[] = [];
  a.leadership.onChange((l) => changes.push(l));
  await new Promise((r) => setImmediate(r));
  const started = Date.now();
  await a.close();
  await leading(b);
  assert.ok(Date.now() - started < 2_000, `handed over in ${Date.now() - started} ms, not after the 3 s TTL`);
  assert.deepEqual(changes, [true, false]);
  assert.equal((await b.leadership.leader())?.id, 'c2');
});

test('etcd: a lock goes with its holder\'s lease', async (t) => {
  const p = prefix();
  const a = await open(t, p, 'c1');
  const b = await open(t, p, 'c2');
  const holder = { pid: 1, host: 'c1', user: 'ops', sinceMs: 1, purpose: 'rollout r1' };
  assert.equal(await a.store.acquireLock('rollout', holder, () => false), undefined);
  assert.deepEqual(await b.store.acquireLock('rollout', { ...holder, pid: 2 }, () => false), holder);
  // Revoking the lease is what its expiry does for a process killed with -9.
  await (a.store as EtcdStore).closeAsync();
  assert.equal(await b.store.acquireLock('rollout', { ...holder, pid: 2 }, () => false), undefined);
});

test('etcd: TLS without a client certificate, or one from another CA, is refused', async (t) => {
  const strange = createCA('not-the-etcd-ca');
  const client = issueCertificate(strange, { commonName: 'intruder', usages: ['client'] });
  const noCert = new EtcdStore({ endpoints: etcd.endpoints, ca: Buffer.from(etcd.ca.certPem), callTimeoutMs: 2_000 });
  t.after(() => noCert.close());
  await assert.rejects(noCert.rollouts(), { code: 'STORE_UNAVAILABLE' });
  const wrongCa = new EtcdStore({ endpoints: etcd.endpoints, ca: Buffer.from(etcd.ca.certPem), cert: Buffer.from(client.certPem), key: Buffer.from(client.keyPem), callTimeoutMs: 2_000 });
  t.after(() => wrongCa.close());
  await assert.rejects(wrongCa.rollouts(), { code: 'STORE_UNAVAILABLE' });
  // openBacking refuses an etcd store without the three files before connecting (by default
  // the fleet's own, from the state folder).
  await assert.rejects(openBacking('/x', { url: `etcd://${etcd.hostPorts[0]}`, caFile: etcd.files.ca }, { id: 'c' }), { code: 'STORE_TLS', message: /\/x\/pki\/fleet\/controller\.crt: ENOENT/ });
  await assert.rejects(openBacking('/x', { url: `etcd://${etcd.hostPorts[0]}`, caFile: etcd.files.ca, certFile: '/no/such.crt', keyFile: etcd.files.key }, { id: 'c' }), { code: 'STORE_TLS', message: /no\/such\.crt: ENOENT/ });
});

test('etcd: --store etcd:// addresses and the store options are checked', async () => {
  assert.deepEqual(parseEtcdUrl('etcd://10.0.0.1:2379,e2.example:2379'), ['https://10.0.0.1:2379', 'https://e2.example:2379']);
  assert.throws(() => new EtcdStore({ endpoints: ['https://127.0.0.1:1'], ca: Buffer.from('not a certificate'), cert: Buffer.from('x'), key: Buffer.from('y') }), { code: 'STORE_TLS', message: /do not load/ });
  assert.deepEqual(parseEtcdUrl('etcd://[::1]:2379'), ['https://[::1]:2379']);
  const spec = { url: 'etcd://127.0.0.1:1', caFile: etcd.files.ca, certFile: etcd.files.cert, keyFile: etcd.files.key };
  await assert.rejects(openBacking('/x', { ...spec, leaseTtlS: 1 }, { id: 'c' }), { code: 'STORE_URL', message: /--lease-ttl 1/ });
  await assert.rejects(openBacking('/x', { ...spec, prefix: 'muster' }, { id: 'c' }), { code: 'STORE_URL', message: /--store-prefix "muster"/ });
  for (const bad of ['etcd://', 'etcd://host', 'etcd://host:99999', 'etcd://a:1,,b:2', 'etcd://a b:1']) assert.throws(() => parseEtcdUrl(bad), { code: 'STORE_URL' }, bad);
});

test('etcd: a leader whose keep-alives stop answering steps down before its lease can expire, and leads again after', async (t) => {
  // An etcd of its own: this test freezes it.
  const own = await startTestEtcd(t);
  const p = prefix();
  const b = await openBacking('/x', { url: `etcd://${own.hostPorts[0]}`, caFile: own.files.ca, certFile: own.files.cert, keyFile: own.files.key, prefix: p, leaseTtlS: 2 }, { id: 'c1' });
  t.after(() => b.close());
  await leading(b);
  const lost = new Promise<number>((resolve) => b.leadership.onChange((l) => !l && resolve(Date.now())));
  const frozen = Date.now();
  process.kill(own.members[0].pid, 'SIGSTOP');
  let stepped: number;
  try {
    stepped = await lost;
  } finally {
    process.kill(own.members[0].pid, 'SIGCONT');
  }
  assert.equal(b.leadership.isLeader(), false);
  assert.ok(stepped - frozen < 2_000, `stepped down ${stepped - frozen} ms after etcd froze, inside the 2 s TTL`);
  await assert.rejects(b.store.journal({ rolloutId: 'r1', wave: 0, node: 'n1', step: 'dispatched', generation: 1, detail: '', atMs: 1 }), { code: 'STORE_FENCED' });
  await leading(b);
  assert.equal((await b.leadership.leader())?.id, 'c1');
});

test('etcd: with etcd\'s auth on, only the controller\'s certificate may use the prefix; another fleet certificate is refused', async (t) => {
  // An etcd of its own: auth is cluster-wide. etcd takes a client certificate's CN as the user.
  const own = await startTestEtcd(t);
  await enableAuth(own);
  const url = `etcd://${own.hostPorts[0]}`;
  const b = await openBacking('/x', { url, caFile: own.files.ca, certFile: own.files.cert, keyFile: own.files.key, leaseTtlS: 2 }, { id: 'c1' }, () => undefined);
  t.after(() => b.close());
  await leading(b);
  await b.store.createRollout({ id: 'r1', specHash: 'h', options: {}, state: 'running', reason: '', operator: { user: 'u', host: 'h' }, createdAtMs: 1 }, []);
  await b.store.journal({ rolloutId: 'r1', wave: 0, node: 'n1', step: 'dispatched', generation: 1, detail: '', atMs: 1 });
  assert.equal((await b.store.entries('r1')).length, 1);
  // An agent's certificate from the same CA: a valid TLS client, but no etcd user.
  const agent = issueCertificate(own.ca, { commonName: 'w1', organizationalUnits: ['agent'], usages: ['client'] });
  const intruder = new EtcdStore({ endpoints: own.endpoints, ca: Buffer.from(own.ca.certPem), cert: Buffer.from(agent.certPem), key: Buffer.from(agent.keyPem), callTimeoutMs: 2_000 });
  t.after(() => intruder.close());
  await assert.rejects(intruder.rollouts(), { code: 'STORE_UNAVAILABLE', message: /permission denied|user name not found|authentication failed/i });
  await assert.rejects(intruder.entries('r1'), { code: 'STORE_UNAVAILABLE' });
});
