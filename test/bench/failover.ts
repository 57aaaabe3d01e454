// npm run bench:failover [-- --runs 5 --lease-ttl 10 --workers 8]: the time from `kill -9` of the
// leading `muster serve` to the resumed rollout's next dispatch, on the failover rig (a real
// three-member etcd with TLS, two serve processes, agents on loopback: test/helpers/failover-rig.ts).
// Each run starts a rollout (batch 1, no soak) through the leader, kills the leader once two
// workers are healthy, and times: the follower leading (GET /v1/leader), its first journal
// entry, its next dispatch. A replacement controller then joins for the next run.
import { parseArgs } from 'node:util';
import { startRig, until } from '../helpers/failover-rig.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, 'lease-ttl': { type: 'string', default: '10' }, workers: { type: 'string', default: '8' } } });
const runs = Number(values.runs);
const ttl = Number(values['lease-ttl']);
const workers = Number(values.workers);

const cleanups: (() => Promise<void> | void)[] = [];
const rig = await startRig({ after: (fn) => cleanups.push(fn) }, { workers, leaseTtlS: ttl });
const rows: { elected: number; resumed: number; dispatched: number }[] = [];
try {
  await rig.startController('c0');
  await rig.leader();
  await rig.startController('c1');
  for (let i = 0; i < runs; i++) {
    const leader = await rig.leader();
    const id = await rig.startRollout(leader, `run-${i}`);
    await until('two workers healthy', async () => (await rig.store.entries(id)).filter((e) => e.step === 'healthy').length >= 2);
    const killedAt = Date.now();
    process.kill(leader.pid, 'SIGKILL');
    await leader.exited;
    const next = await rig.leader(ttl * 1000 + 30_000);
    const elected = Date.now() - killedAt;
    const after = async () => (await rig.store.entries(id)).filter((e) => e.atMs > killedAt);
    const resumed = (await until('a journal entry from the new leader', async () => (await after())[0])).atMs - killedAt;
    const dispatched = (await until('the next dispatch', async () => (await after()).find((e) => e.step === 'dispatched'))).atMs - killedAt;
    rows.push({ elected, resumed, dispatched });
    console.log(`run ${i + 1}: ${next.id} led ${elected} ms after the kill; first journal entry at ${resumed} ms; next dispatch at ${dispatched} ms`);
    await until('the rollout done', async () => (await rig.store.rollout(id))?.state === 'done', 120_000);
    await rig.startController(`c${i + 2}`);
  }
} finally {
  await rig.stop();
}
const stat = (k: keyof (typeof rows)[number]) => {
  const v = rows.map((r) => r[k]).sort((a, b) => a - b);
  return `median ${v[Math.floor(v.length / 2)]} ms, min ${v[0]} ms, max ${v.at(-1)} ms`;
};
console.log(`\nlease TTL ${ttl} s, ${workers} workers, ${runs} runs (goal: next dispatch within ${ttl * 1000 + 2000} ms)`);
console.log(`  follower leads:       ${stat('elected')}`);
console.log(`  first journal entry:  ${stat('resumed')}`);
console.log(`  next dispatch:        ${stat('dispatched')}`);
