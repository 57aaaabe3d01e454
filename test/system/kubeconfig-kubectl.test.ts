// `muster kubeconfig` with the real kubectl, through the real haproxy run from the config the
// HA example renders for lb1, to three TLS stand-ins for kube-apiserver (there is no
// kube-apiserver on this machine) serving the apiserver certificate muster issued and checking
// client certificates against the cluster CA. Everything runs in a network namespace made for the
// test, whose lo holds the VIP. Needs root, iproute2, haproxy and kubectl.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { plansFrom } from '../../controller/app/plan-set.js';
import { loadClusterSpec } from '../../controller/inputs/cluster.js';
import { loadInventory } from '../../controller/inputs/inventory.js';
import { createCA, issueCertificate } from '../../controller/pki/certs.js';
import { ClusterPki } from '../../controller/pki/cluster.js';
import { renderKubeconfig } from '../../controller/render/cluster/kubeconfig.js';
import { repoRoot } from '../helpers/fleet.js';
import { EXAMPLE_CLUSTER, EXAMPLE_INVENTORY } from './helpers/cluster.js';
import { findBinary } from './helpers/etcd.js';
import { waitFor } from './helpers/lb.js';

const exec = promisify(execFile);
const APISERVER_PORT = 6444; // haproxy binds *:6443 in the namespace, so the backends use another port

// The stand-in kube-apiserver: one process, one TLS server per control-plane address. Like the
// real one it serves /healthz, /readyz and /version to anyone (haproxy's checks carry no client
// certificate) and everything else only to a client certificate from the cluster CA; a client
// certificate from another CA is refused at the TLS layer. It logs who asked for what.
const STANDIN = `import https from 'node:https'; import fs from 'node:fs';
const [cert, key, ca, port, ...addresses] = process.argv.slice(2);
const open = new Set(['/healthz', '/readyz', '/livez', '/version']);
const json = (res, code, body) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
for (const address of addresses) {
  const server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key), ca: fs.readFileSync(ca), requestCert: true, rejectUnauthorized: false });
  // Before the HTTP parser sees the socket: a stranger's certificate ends the connection, unread.
  const stranger = (s) => s.getPeerCertificate()?.subject && !s.authorized;
  server.prependListener('secureConnection', (s) => {
    if (stranger(s)) { console.log('refused ' + address + ' ' + s.authorizationError); s.destroy(); }
  });
  server.on('request', (req, res) => {
    if (stranger(req.socket)) return req.socket.destroy();
    const peer = req.socket.getPeerCertificate();
    const who = req.socket.authorized ? 'CN=' + peer.subject.CN + ' O=' + [].concat(peer.subject.O ?? []).join('+') : 'anonymous';
    console.log('request ' + address + ' ' + who + ' ' + req.url);
    const url = req.url.split('?')[0];
    if (!open.has(url) && !req.socket.authorized) return json(res, 401, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    if (url === '/healthz' || url === '/readyz' || url === '/livez') return res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    if (url === '/version') return json(res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.2', gitCommit: '5864a4677267e6adeae276ad85882a8714d69d9d', gitTreeState: 'clean', buildDate: '2024-10-22T20:28:14Z', goVersion: 'go1.22.8', compiler: 'gc', platform: 'linux/amd64' });
    if (url === '/api') return json(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: address + ':' + port }] });
    if (url === '/apis') return json(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    json(res, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
  });
  server.listen(Number(port), address, () => console.log('listening ' + address));
}
`;

test('muster kubeconfig: the real kubectl reaches the API through haproxy at the VIP as kubernetes-admin; a client certificate from another CA is refused', { timeout: 180_000 }, async (t) => {
  for (const p of ['ip', 'haproxy', 'kubectl']) if (!findBinary(p)) return t.skip(`${p} is not installed`);
  const tag = randomBytes(3).toString('hex');
  const ns = `muster-kc-${tag}`;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'muster-kubeconfig-'));
  const procs: ChildProcess[] = [];
  const output = new Map<ChildProcess, string>();
  t.after(async () => {
    for (const c of procs) if (c.pid && c.exitCode === null && c.signalCode === null) process.kill(-c.pid, 'SIGKILL');
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    await fs.rm(dir, { recursive: true, force: true });
  });
  const inNs = (argv: string[]) => {
    const c = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    output.set(c, '');
    const keep = (b: Buffer) => output.set(c, output.get(c) + b.toString());
    c.stdout!.on('data', keep);
    c.stderr!.on('data', keep);
    procs.push(c);
    return c;
  };
  const kubectl = (kubeconfig: string, ...args: string[]) =>
    exec('ip', ['netns', 'exec', ns, findBinary('kubectl')!, '--kubeconfig', kubeconfig, '--request-timeout=5s', ...args], { env: { ...process.env, HOME: dir }, timeout: 30_000 });

  // The local HA example with its VIP on the namespace's lo and the apiservers on port 6444.
  const spec = parse(await fs.readFile(EXAMPLE_CLUSTER, 'utf8')) as { api: Record<string, unknown> };
  spec.api.apiserverPort = APISERVER_PORT;
  const clusterFile = path.join(dir, 'cluster.yaml');
  await fs.writeFile(clusterFile, stringify(spec));
  const vip = spec.api.vip as string;
  const apiPort = spec.api.port as number;
  const state = path.join(dir, 'state');
  const inv = await loadInventory(EXAMPLE_INVENTORY);
  // The PKI step as apply runs it: every certificate issued and kept in the state folder.
  const { plans } = await plansFrom({ inv, cluster: await loadClusterSpec(clusterFile, inv) }, new ClusterPki(state, inv.cluster));
  const haproxyCfg = plans.find((p) => p.node === 'lb1')!.tasks.find((x) => x.id === 'lb-config')!.file!;
  assert.equal(haproxyCfg.path, '/etc/haproxy/haproxy.cfg');

  // muster kubeconfig, through the CLI, written 0600.
  const kubeconfig = path.join(dir, 'admin.conf');
  const cli = await exec(process.execPath, [path.join(repoRoot, 'bin/muster.js'), '-s', state, '-i', EXAMPLE_INVENTORY, 'kubeconfig', '-c', clusterFile, '-o', kubeconfig]);
  assert.match(cli.stdout, new RegExp(`\\[kubeconfig\\] ${kubeconfig.replace(/[.]/g, '\\.')} \\(0600\\): kubernetes-admin \\(system:masters\\) at https://${vip.replace(/[.]/g, '\\.')}:${apiPort}`));
  assert.equal((await fs.stat(kubeconfig)).mode & 0o777, 0o600);
  const text = await fs.readFile(kubeconfig, 'utf8');
  const parsed = parse(text);
  assert.equal(parsed.clusters[0].cluster.server, `https://${vip}:${apiPort}`);
  const caKey = await fs.readFile(path.join(state, 'pki/cluster/ca.key'), 'utf8');
  assert.notEqual(Buffer.from(parsed.users[0].user['client-key-data'], 'base64').toString(), caKey, 'the key is the client\'s, never the CA\'s');
  assert.ok(!text.includes(Buffer.from(caKey).toString('base64')), 'the CA key is never in the kubeconfig');

  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  execFileSync('ip', ['-n', ns, 'addr', 'add', `${vip}/32`, 'dev', 'lo']);
  const standin = path.join(dir, 'standin.mjs');
  await fs.writeFile(standin, STANDIN);
  const pki = (f: string) => path.join(state, 'pki/cluster', f);
  const backends = plans.filter((p) => p.tasks.some((x) => x.id === 'kube-apiserver-manifest')).map((p) => inv.nodes.find((n) => n.name === p.node)!.address);
  const apiservers = inNs([process.execPath, standin, pki('apiserver.crt'), pki('apiserver.key'), pki('ca.crt'), String(APISERVER_PORT), ...backends]);
  await waitFor('the stand-in apiservers', async () => (output.get(apiservers)!.match(/^listening/gm) ?? []).length === 3);
  // The generated config as lb1 gets it; only the stats socket moves (its Debian folder is made by systemd).
  const cfg = path.join(dir, 'haproxy.cfg');
  await fs.writeFile(cfg, Buffer.from(haproxyCfg.content).toString().replace(/stats socket \S+/, `stats socket ${path.join(dir, 'haproxy.sock')}`));
  const haproxy = inNs([findBinary('haproxy')!, '-db', '-f', cfg]);

  await waitFor(`kubectl get --raw /readyz through haproxy\n${output.get(haproxy)}`, async () => (await kubectl(kubeconfig, 'get', '--raw', '/readyz')).stdout === 'ok', 30_000);
  const version = JSON.parse((await kubectl(kubeconfig, 'version', '-o', 'json')).stdout);
  assert.equal(version.serverVersion.gitVersion, 'v1.31.2');
  assert.match((await kubectl(kubeconfig, 'api-versions')).stdout, /^v1$/m);
  // The stand-in saw the admin's certificate on the requests that need one.
  assert.match(output.get(apiservers)!, /^request \S+ CN=kubernetes-admin O=system:masters \/api\b/m);

  // The same kubeconfig with a client certificate from another CA: refused by the stand-in's TLS.
  const otherCa = createCA('not the cluster CA');
  const stranger = issueCertificate(otherCa, { commonName: 'kubernetes-admin', organizations: ['system:masters'], usages: ['client'] });
  const caPem = await fs.readFile(pki('ca.crt'), 'utf8');
  const bad = path.join(dir, 'stranger.conf');
  await fs.writeFile(bad, renderKubeconfig({ cluster: 'ha', server: `https://${vip}:${apiPort}`, user: 'kubernetes-admin', ca: { pem: caPem }, client: stranger }), { mode: 0o600 });
  // Requests for /api (haproxy's anonymous /healthz checks go on meanwhile and do not count).
  const requests = () => (output.get(apiservers)!.match(/^request \S+ .* \/api$/gm) ?? []).length;
  // The stand-in's log lines arrive asynchronously: let the earlier requests' lines land first.
  let before = requests();
  for (;;) {
    await delay(300);
    const now = requests();
    if (now === before) break;
    before = now;
  }
  await assert.rejects(kubectl(bad, 'get', '--raw', '/api'), (err: { code: number; stderr: string }) => {
    assert.notEqual(err.code, 0);
    assert.match(err.stderr, /Unable to connect to the server/);
    return true;
  });
  assert.match(output.get(apiservers)!, /^refused \S+ /m);
  assert.equal(requests(), before, 'no request with the stranger\'s certificate was served');
});
