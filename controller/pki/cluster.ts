import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import type { ClusterModel } from '../render/cluster/model.js';
import type { IssueRequest } from './certs.js';
import { inspectCertificate, type CertInfo, type CertPair } from './inspect.js';
import { PkiStore, type Ensured, type PkiStoreOptions } from './store.js';

export type CaName = 'ca' | 'etcd-ca' | 'front-proxy-ca';
const CA_NAMES: readonly string[] = ['ca', 'etcd-ca', 'front-proxy-ca'];
const CA_SUBJECT: Record<CaName, string> = { ca: 'kubernetes', 'etcd-ca': 'etcd', 'front-proxy-ca': 'front-proxy' };

// A certificate a node needs, named as it is kept in the state folder.
export interface NamedRequest {
  name: string;
  ca: CaName;
  request: IssueRequest;
}

export interface ServiceAccountKey {
  keyPem: string;
  pubPem: string;
}

// What rendering asks of the PKI step.
export interface MaterialNeeds {
  certificates: NamedRequest[];
  serviceAccountKey: boolean;
}

// What the PKI step hands to plan assembly.
export interface Material {
  cert(name: string): CertPair;
  caPem(ca: CaName): string;
  serviceAccount(): ServiceAccountKey;
}

// The Kubernetes cluster's CAs and everything issued from them, in <state>/pki/cluster/.
// Separate from the fleet CA: a leaked agent certificate must not open the API server. etcd
// has its own CA too, as kubeadm does, so an API client certificate never opens etcd.
export class ClusterPki {
  readonly store: PkiStore;
  private readonly cas = new Map<CaName, Promise<Ensured>>();

  // options.inMemory: what is missing is made in memory only, the state folder is only read.
  constructor(stateDir: string, private readonly cluster: string, options: PkiStoreOptions = {}) {
    this.store = new PkiStore(path.join(stateDir, 'pki', 'cluster'), options);
  }

  // issued: made by this object (the first call only).
  ca(name: CaName = 'ca'): Promise<Ensured> {
    let p = this.cas.get(name);
    if (!p) {
      p = this.store.ensureCA(name, `${CA_SUBJECT[name]} (${this.cluster})`);
      this.cas.set(name, p);
    }
    return p;
  }

  // Issues or reuses: kept while subject and SANs match and more than 30 days are left.
  async issue(name: string, req: IssueRequest, ca: CaName = 'ca'): Promise<CertPair> {
    return this.store.ensureIssued(name, await this.ca(ca), req, 30, ca);
  }

  // The service-account signing key pair (RSA: every Kubernetes version verifies RS256).
  async serviceAccountKey(): Promise<ServiceAccountKey & { issued: boolean }> {
    const [keyPem, pubPem] = await Promise.all([this.store.readText('sa.key'), this.store.readText('sa.pub')]);
    if (keyPem !== undefined && pubPem !== undefined) return { keyPem, pubPem, issued: false };
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const made = { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), pubPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
    await this.store.writeText('sa.key', made.keyPem, 0o600);
    await this.store.writeText('sa.pub', made.pubPem, 0o644);
    return { ...made, issued: true };
  }

  // The PKI step between rendering and assembling plans: every certificate the nodes need,
  // loaded when the stored one still serves its request, issued otherwise (in memory only
  // for an in-memory PKI). `issued` names what was (or would be) made.
  async resolve(needs: MaterialNeeds): Promise<{ material: Material; issued: string[] }> {
    const issued: string[] = [];
    const certs = new Map<string, CertPair>();
    const cas = new Map<CaName, string>();
    for (const ca of new Set(needs.certificates.map((r) => r.ca))) {
      const pair = await this.ca(ca);
      if (pair.issued) issued.push(ca);
      cas.set(ca, pair.certPem);
    }
    for (const r of needs.certificates) {
      if (certs.has(r.name)) continue;
      const pair = await this.store.ensureIssued(r.name, await this.ca(r.ca), r.request, 30, r.ca);
      if (pair.issued) issued.push(r.name);
      certs.set(r.name, { certPem: pair.certPem, keyPem: pair.keyPem });
    }
    let sa: ServiceAccountKey | undefined;
    if (needs.serviceAccountKey) {
      const key = await this.serviceAccountKey();
      if (key.issued) issued.push('sa');
      sa = { keyPem: key.keyPem, pubPem: key.pubPem };
    }
    const missing = (what: string): never => {
      throw new Error(`${what} was not requested from the PKI step`);
    };
    return {
      issued,
      material: {
        cert: (name) => certs.get(name) ?? missing(`certificate ${name}`),
        caPem: (ca) => cas.get(ca) ?? missing(`CA ${ca}`),
        serviceAccount: () => sa ?? missing('the service-account key'),
      },
    };
  }


  // Every certificate with what it says and how long it has left.
  async list(now = Date.now()): Promise<{ name: string; ca: string; info: CertInfo }[]> {
    const out = [];
    for (const name of await this.store.names()) {
      const pair = await this.store.read(name);
      if (!pair) continue;
      const meta = await this.store.request(name);
      out.push({ name, ca: CA_NAMES.includes(name) ? '(self-signed CA)' : (meta?.ca ?? 'ca'), info: inspectCertificate(pair.certPem, now) });
    }
    return out;
  }

  // Re-issues every leaf certificate (or those with fewer than `withinDays` left) from its
  // stored request; the next apply rolls the new ones out.
  async renew(withinDays?: number, now = Date.now()): Promise<string[]> {
    const renewed: string[] = [];
    for (const { name, info } of await this.list(now)) {
      if (CA_NAMES.includes(name)) continue;
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
  const kubelets = new Set<string>(); // a node of several roles is listed once
  return [
    { name: 'apiserver', ca: 'ca', request: apiserver },
    { name: 'kubecfg', ca: 'ca', request: client('kubecfg', ['system:masters']) },
    { name: 'apiserver-kubelet-client', ca: 'ca', request: client('kube-apiserver-kubelet-client', ['system:masters']) },
    { name: 'kube-scheduler', ca: 'ca', request: client('system:kube-scheduler') },
    { name: 'kube-controller-manager', ca: 'ca', request: client('system:kube-controller-manager') },
    { name: 'apiserver-etcd-client', ca: 'etcd-ca', request: client('kube-apiserver-etcd-client') },
    // The aggregation layer's own CA, as kubeadm has it: extension apiservers trust it for X-Remote-* only.
    { name: 'front-proxy-client', ca: 'front-proxy-ca', request: client('front-proxy-client') },
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
    // The operator's kubeconfig (muster kubeconfig) and the addon manager's: neither can be
    // granted by a ClusterRoleBinding it would first have to apply itself.
    { name: 'admin', ca: 'ca', request: client('kubernetes-admin', ['system:masters']) },
    ...(m.controlPlane.length ? [{ name: 'addon-manager', ca: 'ca' as const, request: client('system:addon-manager', ['system:masters']) }] : []),
    // Every kubelet's client and serving pairs: muster issues both (docs/cluster.md says why).
    ...[...m.etcd.members, ...m.controlPlane, ...m.workers, ...m.lbNodes]
      .filter((n) => !kubelets.has(n.name) && !!kubelets.add(n.name))
      .flatMap((n): NamedRequest[] => [
        { name: `kubelet/${n.name}`, ca: 'ca', request: client(`system:node:${n.name}`, ['system:nodes']) },
        {
          name: `kubelet-serving/${n.name}`,
          ca: 'ca',
          request: { commonName: `system:node:${n.name}`, organizations: ['system:nodes'], dnsNames: unique([n.name, n.hostname]), ipAddresses: [n.ip], usages: ['server'] },
        },
      ]),
  ];
}
