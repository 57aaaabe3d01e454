// The HA example's etcd static pods run as a real three-member etcd cluster with the certificates
// muster issued, and only the etcd CA's client certificates open it.
//
// The stand-in kubelet: for each etcd node it reads <root>/etc/kubernetes/manifests/etcd.yaml and
// does what the kubelet would do with that static pod, minus containers: make the hostPath volumes
// (DirectoryOrCreate / Directory), run the container's command with each mounted path resolved
// to the host path under the node's root, and nothing else changed but what three members on one
// machine force: no 127.0.0.1 client listener (only one process could bind 127.0.0.1:2379) and the
// metrics listener on the member's own address instead of 127.0.0.1:2381. Every TLS flag is kept.
// Needs Debian packages etcd-server and etcd-client; skips only when etcd or etcdctl is absent.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Host } from '../../agent/host/host.js';
import { CLUSTER_NODE_TREES } from '../helpers/host.js';
import { check as checkProbe } from '../../agent/probes/probes.js';
import { ProbeState } from '../../proto/gen/muster/agent/v1/agent.js';
import { onNode, renderAndApplyExample } from './helpers/cluster.js';
import {
  etcdctl,
  findBinary,
  isListening,
  sleep,
  stopEtcdMember,
  waitForHealth,
  waitForPortsClosed,
  type EtcdMember,
} from './helpers/etcd.js';
import { startEtcdPod, type StandInMember } from './helpers/standin-kubelet.js';

const MEMBERS = [
  { name: 'm1', ip: '127.0.0.21' },
  { name: 'm2', ip: '127.0.0.22' },
  { name: 'm3', ip: '127.0.0.23' },
];
const PORTS = [2379, 2380, 2381];

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

// etcdctl fails, and the member's own log says why: gRPC shows the client only a deadline.
async function assertRefused(member: EtcdMember, attempt: Promise<string>, reason: string): Promise<void> {
  const logStart = member.logs().length;
  await assert.rejects(attempt, /context deadline exceeded|bad certificate|certificate required|unknown authority/i, `${member.name} accepted the client`);
  const deadline = Date.now() + 5_000;
  while (!member.logs().slice(logStart).includes(reason) && Date.now() < deadline) await sleep(100);
  const fresh = member.logs().slice(logStart);
  assert.ok(fresh.includes(reason), `${member.name} did not log "${reason}" for the refused client:\n${fresh.split('\n').filter((l) => /rejected/.test(l)).join('\n')}`);
}

// A member that refuses its peers' certificates never gets quorum; say which SAN check failed and why.
function explainPeerRefusals(members: StandInMember[]): Error | undefined {
  const lines = members.flatMap((m) => m.logs().split('\n').filter((l) => /rejected connection from .*does not match any of/.test(l)).map((l) => `${m.name}: ${l.trim()}`));
  if (!lines.length) return undefined;
  return new Error(
    'etcd refused its peers: with --peer-client-cert-auth it checks that a peer connects from an address (or a name resolving to one) ' +
      "in that peer's certificate. On one machine the kernel dials 127.0.0.2x from 127.0.0.1 (the lo route's src), which the peer " +
      "certificates do not list; kubeadm's peer certificates carry localhost, 127.0.0.1 and ::1 for this reason.\n" +
      lines.slice(0, 6).join('\n'),
  );
}

test('the HA example runs as a real 3-member etcd cluster with the issued certificates', { timeout: 120_000 }, async (t) => {
  const etcdBinary = findBinary('etcd');
  if (!etcdBinary) {
    t.skip('etcd not installed');
    return;
  }
  if (!findBinary('etcdctl')) {
    t.skip('etcdctl not installed');
    return;
  }
  // The generated flags use the real ports on each member's own address; another etcd there would collide.
  for (const { ip } of MEMBERS) {
    for (const port of PORTS) {
      if (await isListening(ip, port)) {
        t.skip(`${ip}:${port} is already in use on this machine; the members need ${PORTS.join('/')} on ${MEMBERS.map((m) => m.ip).join(', ')}`);
        return;
      }
    }
  }

  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-ha-etcd-'));
  const members: StandInMember[] = [];
  // Killed by pid if the test process dies before its cleanup runs.
  const killAll = () => {
    for (const m of members) if (m.exitCode() === undefined) process.kill(m.pid, 'SIGKILL');
  };
  process.once('exit', killAll);
  t.after(async () => {
    await Promise.allSettled(members.map((m) => stopEtcdMember(m)));
    await Promise.allSettled(members.map((m) => waitForPortsClosed(m.host, [Number(new URL(m.metricsUrl).port)])));
    process.removeListener('exit', killAll);
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const cluster = await renderAndApplyExample(tmp);
  const m1 = (p: string): string => onNode(cluster, 'm1', p);
  const etcdCaFile = m1('/etc/kubernetes/pki/etcd/ca.crt');

  for (const { name, ip } of MEMBERS) {
    const root = cluster.roots.get(name);
    assert.ok(root, `no root for ${name}`);
    members.push(await startEtcdPod(root, ip, etcdBinary, path.join(tmp, `${name}.log`)));
  }
  // The rewrite changed only listeners and mounted paths: every TLS flag reaches etcd as generated, re-rooted.
  for (const m of members) {
    const root = cluster.roots.get(m.name)!;
    const has = (flag: string) => assert.ok(m.command.includes(flag), `${m.name} was started without ${flag}:\n${m.command.join(' ')}`);
    has('--client-cert-auth=true');
    has('--peer-client-cert-auth=true');
    has(`--cert-file=${root}/etc/kubernetes/pki/etcd/server.crt`);
    has(`--trusted-ca-file=${root}/etc/kubernetes/pki/etcd/ca.crt`);
    has(`--peer-trusted-ca-file=${root}/etc/kubernetes/pki/etcd/ca.crt`);
    has(`--data-dir=${root}/var/lib/etcd`);
    // No host path escapes the node's root: the stand-in reads only what the agent wrote for this node.
    const unrooted = m.command.slice(1).filter((f) => /^--[\w-]+=\//.test(f) && !f.includes(`=${root}/`));
    assert.deepEqual(unrooted, [], `${m.name} got host paths outside its root`);
  }

  // Health over TLS with the health-check client certificate each etcd node was given.
  const healthy = Promise.all(
    members.map((m) => {
      const pki = (f: string) => onNode(cluster, m.name, `/etc/kubernetes/pki/etcd/${f}`);
      return waitForHealth(m, {
        timeoutMs: 45_000,
        tls: { ca: readFileSync(pki('ca.crt')), cert: readFileSync(pki('healthcheck-client.crt')), key: readFileSync(pki('healthcheck-client.key')) },
      });
    }),
  );
  // A refused peer certificate never heals, so stop waiting once etcd has logged one for a few seconds.
  let watching = true;
  const refusals = (async () => {
    const started = Date.now();
    while (watching) {
      const explained = explainPeerRefusals(members);
      if (explained && Date.now() - started > 8_000) throw explained;
      await sleep(500);
    }
  })();
  try {
    await Promise.race([healthy, refusals]);
  } catch (err) {
    throw explainPeerRefusals(members) ?? err;
  } finally {
    watching = false;
    healthy.catch(() => undefined);
  }
  // The kubelet's probe: plain HTTP on the metrics listener, the path the manifest gives.
  for (const m of members) {
    const r = await httpGet(`${m.metricsUrl}/health?exclude=NOSPACE&serializable=true`);
    assert.equal(r.status, 200, `${m.name} metrics /health: ${r.body}`);
    assert.equal((JSON.parse(r.body) as { health?: string }).health, 'true');
  }

  // The apiserver's etcd client certificate, as installed on m1, opens the cluster.
  const apiserverTls = ['--cacert', m1('/srv/kubernetes/etcd-ca.crt'), '--cert', m1('/srv/kubernetes/apiserver-etcd-client.crt'), '--key', m1('/srv/kubernetes/apiserver-etcd-client.key')];
  const endpoints = members.map((m) => m.clientUrl);
  const list = JSON.parse(await etcdctl(endpoints, [...apiserverTls, 'member', 'list', '-w', 'json'])) as {
    members: { name: string; peerURLs: string[]; clientURLs: string[] }[];
  };
  assert.equal(list.members.length, 3);
  assert.deepEqual(list.members.map((m) => m.name).sort(), ['m1', 'm2', 'm3']);
  for (const { name, ip } of MEMBERS) {
    const listed = list.members.find((x) => x.name === name);
    assert.deepEqual(listed?.peerURLs, [`https://${ip}:2380`], `${name}'s peer URL`);
    assert.deepEqual(listed?.clientURLs, [`https://${ip}:2379`], `${name}'s client URL`);
  }

  // Replication: written through m1, read through m3.
  const value = `written-through-m1-${process.pid}`;
  assert.match(await etcdctl([members[0].clientUrl], [...apiserverTls, 'put', '/muster/ha-cluster', value]), /OK/);
  const got = await etcdctl([members[2].clientUrl], [...apiserverTls, 'get', '/muster/ha-cluster', '--print-value-only']);
  assert.equal(got.trim(), value);

  // The agent's own etcd probe, as the plan defines it, against the real cluster: healthy,
  // with the member id, the leader, the raft index and the db size.
  for (const { name } of MEMBERS) {
    const spec = cluster.plans.find((p) => p.node === name)!.probes.find((p) => p.name === 'etcd')!;
    const host = new Host({ root: cluster.roots.get(name)!, allowedTrees: CLUSTER_NODE_TREES, stateDir: '/var/lib/musterd' });
    const outcome = await checkProbe(spec, host);
    assert.equal(outcome.state, ProbeState.PROBE_STATE_HEALTHY, `${name}: ${outcome.message}`);
    assert.match(outcome.details!.member_id, /^\d+$/);
    assert.match(outcome.details!.leader, /^\d+$/);
    assert.ok(Number(outcome.details!.raft_index) > 0 && Number(outcome.details!.db_size) > 0);
    assert.equal(outcome.details!.alarms, 'none');
  }

  // Negative: kubecfg is a cluster-admin certificate, but from the Kubernetes CA, so etcd must refuse it.
  const refused = ['--dial-timeout=2s', '--command-timeout=3s', '--cacert', etcdCaFile];
  const kubecfg = ['--cert', m1('/srv/kubernetes/kubecfg.crt'), '--key', m1('/srv/kubernetes/kubecfg.key')];
  await assertRefused(members[0], etcdctl([members[0].clientUrl], [...refused, ...kubecfg, 'get', '/muster/ha-cluster']), 'certificate signed by unknown authority');
  // And no certificate at all is refused too: --client-cert-auth is really on.
  await assertRefused(members[0], etcdctl([members[0].clientUrl], [...refused, 'get', '/muster/ha-cluster']), "client didn't provide a certificate");

  // Stop every member by pid and prove its ports are closed.
  for (const m of members) await stopEtcdMember(m);
  // With its member gone, the probe fails and says why.
  const gone = await checkProbe(cluster.plans.find((p) => p.node === 'm1')!.probes.find((p) => p.name === 'etcd')!, new Host({ root: cluster.roots.get('m1')!, allowedTrees: CLUSTER_NODE_TREES, stateDir: '/var/lib/musterd' })).catch((err: Error) => ({ state: ProbeState.PROBE_STATE_FAILED, message: err.message }));
  assert.equal(gone.state, ProbeState.PROBE_STATE_FAILED);
  assert.match(gone.message, /ECONNREFUSED/);
  for (const m of members) {
    assert.notEqual(m.exitCode(), undefined);
    await waitForPortsClosed(m.host, [...PORTS]);
  }
});
