import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../common/atomic-write.js';
import type { ClusterModel } from '../render/cluster/model.js';
import { inspectCertificate, type CertInfo, type CertPair, type IssueRequest } from './certs.js';
import { PkiStore } from './store.js';

export type CaName = 'ca' | 'etcd-ca';

export interface NamedRequest {
  name: string;
  ca: CaName;
  request: IssueRequest;
}

// The Kubernetes cluster's CAs and everything issued from them, in <state>/pki/cluster/.
// Separate from the fleet CA: a leaked agent certificate must not open the API server. etcd
// has its own CA too, as kubeadm does, so an API client certificate never opens etcd.
export class ClusterPki {
  readonly store: PkiStore;
  private readonly cas = new Map<CaName, Promise<CertPair>>();

  constructor(stateDir: string, private readonly cluster: string) {
    this.store = new PkiStore(path.join(stateDir, 'pki', 'cluster'));
  }

  ca(name: CaName = 'ca'): Promise<CertPair> {
    let p = this.cas.get(name);
    if (!p) {
      p = this.store.ensureCA(name, name === 'ca' ? `kubernetes (${this.cluster})` : `etcd (${this.cluster})`);
      this.cas.set(name, p);
    }
    return p;
  }

  // Issues or reuses: kept while subject and SANs match and more than 30 days are left.
  async issue(name: string, req: IssueRequest, ca: CaName = 'ca'): Promise<CertPair> {
    return this.store.ensureIssued(name, await this.ca(ca), req, 30, ca);
  }

  // The service-account signing key pair (RSA: every Kubernetes version verifies RS256).
  async serviceAccountKey(): Promise<{ keyPem: string; pubPem: string }> {
    const keyFile = path.join(this.store.dir, 'sa.key');
    const pubFile = path.join(this.store.dir, 'sa.pub');
    try {
      return { keyPem: await fs.readFile(keyFile, 'utf8'), pubPem: await fs.readFile(pubFile, 'utf8') };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const pubPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await fs.mkdir(this.store.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(keyFile, keyPem, { mode: 0o600 });
    await writeFileAtomic(pubFile, pubPem, { mode: 0o644 });
    return { keyPem, pubPem };
  }

  // Every certificate with what it says and how long it has left.
  async list(now = Date.now()): Promise<{ name: string; ca: string; info: CertInfo }[]> {
    const out = [];
    for (const name of await this.store.names()) {
      const pair = await this.store.read(name);
      if (!pair) continue;
      const meta = await this.store.request(name);
      out.push({ name, ca: name === 'ca' || name === 'etcd-ca' ? '(self-signed CA)' : (meta?.ca ?? 'ca'), info: inspectCertificate(pair.certPem, now) });
    }
    return out;
  }

  // Re-issues every leaf certificate (or those with fewer than `withinDays` left) from its
  // stored request; the next apply rolls the new ones out.
  async renew(withinDays?: number, now = Date.now()): Promise<string[]> {
    const renewed: string[] = [];
    for (const { name, info } of await this.list(now)) {
      if (name === 'ca' || name === 'etcd-ca') continue;
      if (withinDays !== undefined && info.daysLeft >= withinDays) continue;
      const meta = await this.store.request(name);
      if (!meta) continue;
      await this.store.issue(name, await this.ca(meta.ca as CaName), meta.request, meta.ca);
      renewed.push(name);
    }
    return renewed;
  }
}

const unique = (xs: string[]) => [...new Set(xs)];

// Every certificate the cluster needs, named as it is kept in the state folder.
export function clusterRequests(m: ClusterModel, extraSANs: string[] = []): NamedRequest[] {
  const isIp = (s: string) => /^[\d.]+$/.test(s) || s.includes(':');
  const frontends = [...m.controlPlane, ...m.lbNodes];
  const apiserver: IssueRequest = {
    commonName: 'kube-apiserver',
    dnsNames: unique([
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      `kubernetes.default.svc.${m.network.clusterDomain}`,
      'localhost',
      ...frontends.flatMap((n) => [n.name, n.hostname]),
      ...extraSANs.filter((s) => !isIp(s)),
    ]),
    ipAddresses: unique([m.network.firstServiceIP, m.api.vip, '127.0.0.1', ...frontends.map((n) => n.ip), ...extraSANs.filter(isIp)]),
    usages: ['server'],
  };
  const client = (commonName: string, organizations: string[] = []): IssueRequest => ({ commonName, organizations, usages: ['client'] });
  return [
    { name: 'apiserver', ca: 'ca', request: apiserver },
    { name: 'kubecfg', ca: 'ca', request: client('kubecfg', ['system:masters']) },
    { name: 'apiserver-kubelet-client', ca: 'ca', request: client('kube-apiserver-kubelet-client', ['system:masters']) },
    { name: 'kube-scheduler', ca: 'ca', request: client('system:kube-scheduler') },
    { name: 'kube-controller-manager', ca: 'ca', request: client('system:kube-controller-manager') },
    { name: 'apiserver-etcd-client', ca: 'etcd-ca', request: client('kube-apiserver-etcd-client') },
    { name: 'etcd-healthcheck-client', ca: 'etcd-ca', request: client('muster-etcd-healthcheck') },
    ...m.etcd.members.flatMap((e): NamedRequest[] => [
      {
        name: `etcd/${e.name}/server`,
        ca: 'etcd-ca',
        request: { commonName: e.name, dnsNames: unique([e.name, e.hostname, 'localhost']), ipAddresses: unique([e.ip, '127.0.0.1']), usages: ['server', 'client'] },
      },
      {
        name: `etcd/${e.name}/peer`,
        ca: 'etcd-ca',
        // etcd checks a peer's source address against its certificate; a node's own traffic to
        // another of its addresses leaves from 127.0.0.1, as on kubeadm's peer certificates.
        request: { commonName: e.name, dnsNames: unique([e.name, e.hostname, 'localhost']), ipAddresses: unique([e.ip, '127.0.0.1']), usages: ['server', 'client'] },
      },
    ]),
    ...[...m.controlPlane, ...m.workers, ...m.lbNodes]
      .filter((n, i, all) => all.findIndex((x) => x.name === n.name) === i)
      .map((n): NamedRequest => ({ name: `kubelet/${n.name}`, ca: 'ca', request: client(`system:node:${n.name}`, ['system:nodes']) })),
  ];
}

export async function ensureClusterCredentials(pki: ClusterPki, m: ClusterModel, extraSANs: string[] = []): Promise<Map<string, CertPair>> {
  const out = new Map<string, CertPair>();
  for (const r of clusterRequests(m, extraSANs)) out.set(r.name, await pki.issue(r.name, r.request, r.ca));
  return out;
}
