// A real etcd (etcd-server 3.4) for the etcd store's tests: one or three members on free
// loopback ports under a temp folder, serving TLS that demands a client certificate from a
// test CA, stopped by pid when the test ends. The controller's client certificate comes from
// the same CA, as `muster serve --store etcd://...` uses it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCA, issueCertificate, type CertPair } from '../../controller/pki/certs.js';
import { etcdctl, findFreePorts, startEtcdMember, stopEtcdMember, waitForHealth, type EtcdMember } from '../system/helpers/etcd.js';

export interface TestEtcd {
  dir: string;
  members: EtcdMember[];
  // host:port of each member, for etcd://...
  hostPorts: string[];
  endpoints: string[];
  ca: CertPair;
  client: CertPair;
  // The same as PEM files (for --store-ca/--store-cert/--store-key and etcdctl).
  files: { ca: string; cert: string; key: string };
  stop(): Promise<void>;
}

export async function startTestEtcd(t: { after(fn: () => Promise<void> | void): void }, options: { members?: 1 | 3; ca?: CertPair; client?: CertPair } = {}): Promise<TestEtcd> {
  const count = options.members ?? 1;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muster-etcd-'));
  const ca = options.ca ?? createCA('muster-test-etcd-ca');
  const server = issueCertificate(ca, { commonName: 'etcd', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usages: ['server', 'client'] });
  const client = options.client ?? issueCertificate(ca, { commonName: 'muster-controller', organizationalUnits: ['controller'], usages: ['client'] });
  const write = (name: string, pem: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, pem, { mode: 0o600 });
    return file;
  };
  const files = { ca: write('ca.crt', ca.certPem), cert: write('client.crt', client.certPem), key: write('client.key', client.keyPem) };
  const serverFiles = { cert: write('server.crt', server.certPem), key: write('server.key', server.keyPem) };
  const ports = await findFreePorts(count * 2);
  const names = Array.from({ length: count }, (_, i) => `m${i + 1}`);
  const cluster = names.map((n, i) => `${n}=https://127.0.0.1:${ports[i * 2 + 1]}`).join(',');
  const tls = ['--cert-file', serverFiles.cert, '--key-file', serverFiles.key, '--trusted-ca-file', files.ca, '--client-cert-auth'];
  const peerTls = ['--peer-cert-file', serverFiles.cert, '--peer-key-file', serverFiles.key, '--peer-trusted-ca-file', files.ca, '--peer-client-cert-auth'];
  const members = names.map((name, i) =>
    startEtcdMember({
      name,
      dataDir: path.join(dir, name),
      clientPort: ports[i * 2],
      peerPort: ports[i * 2 + 1],
      clientScheme: 'https',
      peerScheme: 'https',
      // Short heartbeats keep a test's elections quick on a loaded machine.
      args: [...tls, ...peerTls, `--initial-cluster=${cluster}`, '--initial-cluster-state=new', '--initial-cluster-token', path.basename(dir), '--heartbeat-interval=100', '--election-timeout=1000'],
    }),
  );
  const stop = async () => {
    await Promise.all(members.map((m) => stopEtcdMember(m)));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  t.after(stop);
  const tlsClient = { ca: ca.certPem, cert: client.certPem, key: client.keyPem };
  await Promise.all(members.map((m) => waitForHealth(m, { tls: tlsClient, timeoutMs: 30_000 })));
  const hostPorts = members.map((m) => `127.0.0.1:${m.clientPort}`);
  return { dir, members, hostPorts, endpoints: hostPorts.map((h) => `https://${h}`), ca, client, files, stop };
}

// Turns etcd's auth on as docs/ha.md says: the client certificate's CN is the user, and only
// `user` (the controller's CN) gets a role, read-write on `prefix`.
export async function enableAuth(etcd: TestEtcd, user = 'muster-controller', prefix = '/muster/'): Promise<void> {
  const tls = [`--cacert=${etcd.files.ca}`, `--cert=${etcd.files.cert}`, `--key=${etcd.files.key}`];
  const ctl = (...args: string[]) => etcdctl(etcd.endpoints, [...tls, ...args]);
  await ctl('user', 'add', 'root', '--no-password');
  await ctl('user', 'grant-role', 'root', 'root');
  await ctl('role', 'add', 'muster');
  await ctl('role', 'grant-permission', 'muster', '--prefix=true', 'readwrite', prefix);
  await ctl('user', 'add', user, '--no-password');
  await ctl('user', 'grant-role', user, 'muster');
  await ctl('auth', 'enable');
}
