// Every certificate the ten-node HA example installs, checked by the real openssl: chains to the
// right CA (etcd's or Kubernetes'), fits its purpose, is not about to expire, matches its key,
// and the API server's serving certificate names everything clients dial.
// Needs the Debian package openssl; skips only when `openssl` is absent.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Plan } from '../../proto/gen/muster/agent/v1/agent.js';
import type { CertificateSpec } from '../../proto/gen/muster/agent/v1/tasks.js';
import { findProgram, onNode, renderAndApplyExample, runProgram, type AppliedCluster } from './helpers/cluster.js';

interface InstalledCert {
  node: string;
  task: string;
  spec: CertificateSpec;
  // Real paths on this machine, under the node's root.
  cert: string;
  key: string;
  // The CA the plan says signs it, written to a temp file.
  caFile: string;
}

const CONTROL_PLANE = [
  { name: 'm1', ip: '127.0.0.21' },
  { name: 'm2', ip: '127.0.0.22' },
  { name: 'm3', ip: '127.0.0.23' },
];

let tmp = '';
let cluster: AppliedCluster;
let certs: InstalledCert[] = [];
let kubernetesCa = '';
let etcdCa = '';
let frontProxyCa = '';

function requireOpenssl(t: TestContext): string | undefined {
  const bin = findProgram('openssl');
  if (!bin) t.skip('openssl not installed');
  return bin;
}

// One file per distinct CA PEM, so openssl sees exactly what the plan shipped.
async function caFileFor(pem: string): Promise<string> {
  const file = path.join(tmp, 'cas', `${createHash('sha256').update(pem).digest('hex').slice(0, 16)}.crt`);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, pem);
  return file;
}

function certificateTasks(plans: Plan[]): { node: string; task: string; spec: CertificateSpec }[] {
  return plans.flatMap((p) => p.tasks.filter((t) => t.certificate).map((t) => ({ node: p.node, task: t.id, spec: t.certificate! })));
}

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-ha-certs-'));
  cluster = await renderAndApplyExample(tmp);
  kubernetesCa = (await cluster.state.pki.ca('ca')).certPem;
  etcdCa = (await cluster.state.pki.ca('etcd-ca')).certPem;
  frontProxyCa = (await cluster.state.pki.ca('front-proxy-ca')).certPem;
  for (const c of certificateTasks(cluster.plans)) {
    certs.push({
      ...c,
      cert: onNode(cluster, c.node, c.spec.certPath),
      key: onNode(cluster, c.node, c.spec.keyPath),
      caFile: await caFileFor(c.spec.caPem),
    });
  }
});

after(async () => {
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  certs = [];
});

// The etcd CA signs what etcd serves and what opens etcd; the front-proxy CA the aggregation
// layer's client; the Kubernetes CA signs the rest.
function expectedCa(c: { spec: CertificateSpec }): 'etcd' | 'front-proxy' | 'kubernetes' {
  if (c.spec.certPath.endsWith('/front-proxy-client.crt')) return 'front-proxy';
  return c.spec.certPath.startsWith('/etc/kubernetes/pki/etcd/') || c.spec.certPath.endsWith('/apiserver-etcd-client.crt') ? 'etcd' : 'kubernetes';
}

// openssl verify -purpose: what the peer checks in the extended key usage when it sees this certificate.
function purposes(certPath: string): ('sslserver' | 'sslclient')[] {
  const file = path.posix.basename(certPath);
  // The API server's, and the kubelet's serving certificate (muster issues it; docs/cluster.md).
  if (file === 'server.cert' || file === 'kubelet.crt') return ['sslserver'];
  // etcd dials its peers with peer.crt and, for its own gateway and grpc-proxy, the server cert as a client.
  if (file === 'server.crt' || file === 'peer.crt') return ['sslserver', 'sslclient'];
  return ['sslclient'];
}

describe('the HA example installs certificates that openssl accepts', () => {
  it('covers every role: etcd, control-plane, lb and worker certificates were installed', () => {
    const byNode = new Map<string, string[]>();
    for (const c of certs) byNode.set(c.node, [...(byNode.get(c.node) ?? []), c.spec.certPath]);
    assert.equal(byNode.size, 10, `certificates on ${[...byNode.keys()].join(', ')}`);
    for (const { name } of CONTROL_PLANE) {
      assert.deepEqual(byNode.get(name)?.slice().sort(), [
        '/etc/kubernetes/pki/etcd/healthcheck-client.crt',
        '/etc/kubernetes/pki/etcd/peer.crt',
        '/etc/kubernetes/pki/etcd/server.crt',
        '/srv/kubernetes/apiserver-etcd-client.crt',
        '/srv/kubernetes/apiserver-kubelet-client.crt',
        '/srv/kubernetes/front-proxy-client.crt',
        '/srv/kubernetes/kubecfg.crt',
        '/srv/kubernetes/server.cert',
        '/var/lib/kubelet/pki/kubelet-client.crt',
        '/var/lib/kubelet/pki/kubelet.crt',
      ]);
    }
    for (const name of ['lb1', 'lb2', 'w1', 'w2', 'w3', 'w4', 'w5']) {
      assert.deepEqual(byNode.get(name), ['/var/lib/kubelet/pki/kubelet-client.crt', '/var/lib/kubelet/pki/kubelet.crt']);
    }
    assert.notEqual(kubernetesCa, etcdCa);
    assert.ok(![kubernetesCa, etcdCa].includes(frontProxyCa));
  });

  it('openssl verify: every installed certificate chains to the CA its task names, and that is the right CA', async (t) => {
    const openssl = requireOpenssl(t);
    if (!openssl) return;
    for (const c of certs) {
      const want = expectedCa(c);
      assert.equal(c.spec.caPem, { etcd: etcdCa, 'front-proxy': frontProxyCa, kubernetes: kubernetesCa }[want], `${c.node} ${c.spec.certPath}: the plan ships the wrong CA (want the ${want} CA)`);
      // What the agent put on disk is what the plan carried.
      assert.equal(await fs.readFile(c.cert, 'utf8'), c.spec.certPem, `${c.node} ${c.spec.certPath} differs from the plan`);
      if (c.spec.caPath) assert.equal(await fs.readFile(onNode(cluster, c.node, c.spec.caPath), 'utf8'), c.spec.caPem, `${c.node} ${c.spec.caPath}`);
      const r = await runProgram(openssl, ['verify', '-CAfile', c.caFile, c.cert]);
      assert.equal(r.status, 0, `${c.node} ${c.spec.certPath}:\n${r.output}`);
      assert.equal(r.stdout.trim(), `${c.cert}: OK`);
    }
  });

  it('openssl verify -purpose: server certificates serve TLS, client certificates authenticate', async (t) => {
    const openssl = requireOpenssl(t);
    if (!openssl) return;
    for (const c of certs) {
      for (const purpose of purposes(c.spec.certPath)) {
        const r = await runProgram(openssl, ['verify', '-purpose', purpose, '-CAfile', c.caFile, c.cert]);
        assert.equal(r.status, 0, `${c.node} ${c.spec.certPath} as ${purpose}:\n${r.output}`);
        assert.match(r.stdout, /: OK$/m);
      }
    }
  });

  it('the installed CA files verify too: ca.crt on each node is a CA that signs what sits beside it', async (t) => {
    const openssl = requireOpenssl(t);
    if (!openssl) return;
    const checked = new Set<string>();
    for (const c of certs.filter((x) => x.spec.caPath)) {
      const ca = onNode(cluster, c.node, c.spec.caPath);
      const r = await runProgram(openssl, ['verify', '-CAfile', ca, c.cert]);
      assert.equal(r.status, 0, `${c.node} ${c.spec.certPath} against ${c.spec.caPath}:\n${r.output}`);
      const text = (await runProgram(openssl, ['x509', '-noout', '-ext', 'basicConstraints', '-in', ca])).stdout;
      assert.match(text, /CA:TRUE/, `${c.node} ${c.spec.caPath} is not a CA`);
      checked.add(c.spec.caPath);
    }
    // The etcd CA on etcd nodes, the Kubernetes and etcd CAs for the apiserver, and the kubelet's.
    assert.deepEqual([...checked].sort(), ['/etc/kubernetes/pki/etcd/ca.crt', '/srv/kubernetes/ca.crt', '/srv/kubernetes/etcd-ca.crt', '/srv/kubernetes/front-proxy-ca.crt', '/var/lib/kubelet/pki/ca.crt']);
  });

  it("m1's API serving certificate names every control-plane node, the VIP, the service IP, the cluster names and the extra SAN", async (t) => {
    const openssl = requireOpenssl(t);
    if (!openssl) return;
    const cert = onNode(cluster, 'm1', '/srv/kubernetes/server.cert');
    const r = await runProgram(openssl, ['x509', '-noout', '-ext', 'subjectAltName', '-in', cert]);
    assert.equal(r.status, 0, r.output);
    const sans = new Set(
      r.stdout
        .split('\n')
        .slice(1)
        .join(',')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
    const want = [
      ...CONTROL_PLANE.flatMap((n) => [`DNS:${n.name}`, `IP Address:${n.ip}`]),
      'IP Address:192.0.2.100',
      'IP Address:10.96.0.1',
      'DNS:kubernetes',
      'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc',
      'DNS:kubernetes.default.svc.cluster.local',
      'DNS:api.ha.example',
    ];
    const missing = want.filter((s) => !sans.has(s));
    assert.deepEqual(missing, [], `missing SANs; the certificate has: ${[...sans].join(', ')}`);
    // Every control-plane node serves the same certificate, so a client may land on any of them behind the VIP.
    for (const { name } of CONTROL_PLANE.slice(1)) {
      assert.equal(await fs.readFile(onNode(cluster, name, '/srv/kubernetes/server.cert'), 'utf8'), await fs.readFile(cert, 'utf8'));
    }
  });

  it('openssl x509 -checkend 86400: no certificate, CA included, expires within a day', async (t) => {
    const openssl = requireOpenssl(t);
    if (!openssl) return;
    const files = [...certs.map((c) => c.cert), ...new Set(certs.map((c) => c.caFile))];
    for (const file of files) {
      const r = await runProgram(openssl, ['x509', '-noout', '-checkend', '86400', '-in', file]);
      assert.equal(r.status, 0, `${file}:\n${r.output}`);
      assert.match(r.stdout, /will not expire/);
    }
  });

  it('every private key is mode 0600, every certificate and CA file 0644', async () => {
    for (const c of certs) {
      const mode = async (p: string) => ((await fs.stat(onNode(cluster, c.node, p))).mode & 0o777).toString(8);
      assert.equal(await mode(c.spec.keyPath), '600', `${c.node} ${c.spec.keyPath}`);
      assert.equal(await mode(c.spec.certPath), '644', `${c.node} ${c.spec.certPath}`);
      if (c.spec.caPath) assert.equal(await mode(c.spec.caPath), '644', `${c.node} ${c.spec.caPath}`);
    }
  });

  it('openssl: every private key belongs to its certificate', async (t) => {
    const openssl = requireOpenssl(t);
    if (!openssl) return;
    for (const c of certs) {
      const fromCert = await runProgram(openssl, ['x509', '-noout', '-pubkey', '-in', c.cert]);
      const fromKey = await runProgram(openssl, ['pkey', '-pubout', '-in', c.key]);
      assert.equal(fromKey.status, 0, `${c.node} ${c.spec.keyPath}:\n${fromKey.output}`);
      assert.equal(fromKey.stdout, fromCert.stdout, `${c.node}: ${c.spec.keyPath} is not the key of ${c.spec.certPath}`);
    }
  });

  it('the two CAs are separate: etcd certificates fail against the Kubernetes CA and the reverse', async (t) => {
    const openssl = requireOpenssl(t);
    if (!openssl) return;
    const k8sCaFile = await caFileFor(kubernetesCa);
    const etcdCaFile = await caFileFor(etcdCa);
    const cases = [
      { cert: onNode(cluster, 'm1', '/etc/kubernetes/pki/etcd/server.crt'), ca: k8sCaFile },
      { cert: onNode(cluster, 'm1', '/srv/kubernetes/apiserver-etcd-client.crt'), ca: k8sCaFile },
      { cert: onNode(cluster, 'm1', '/srv/kubernetes/kubecfg.crt'), ca: etcdCaFile },
    ];
    for (const { cert, ca } of cases) {
      const r = await runProgram(openssl, ['verify', '-CAfile', ca, cert]);
      assert.notEqual(r.status, 0, `${cert} verified against the wrong CA:\n${r.output}`);
      assert.match(r.output, /unable to get local issuer certificate/);
      assert.doesNotMatch(r.stdout, /: OK$/m);
    }
  });
});
