import fs from 'node:fs/promises';
import path from 'node:path';
import { isIP } from 'node:net';
import { z } from 'zod';
import { SpecError, loadYaml, type SpecProblem } from '../../common/yaml-load.js';
import { readSpec, type Inventory } from './inventory.js';
import { mountSchema } from './storage.js';
import { selector } from './task-file.js';

const cidr = z.string().refine((s) => {
  const [ip, bits, extra] = s.split('/');
  return extra === undefined && isIP(ip) === 4 && /^\d+$/.test(bits ?? '') && Number(bits) <= 32;
}, 'must be an IPv4 CIDR such as 10.96.0.0/12');
const ipv4 = z.string().refine((s) => isIP(s) === 4, 'must be an IPv4 address');
const port = z.number().int().min(1).max(65535);
const dns = z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, 'must be a lower-case DNS name');

const token = z
  .object({
    token: z.string().min(16, 'a token needs at least 16 characters').regex(/^[^,\s]+$/, 'a token may not hold commas or spaces'),
    user: z.string().min(1).regex(/^[^,]+$/),
    uid: z.string().min(1).regex(/^[^,]+$/),
    groups: z.array(z.string().regex(/^[^,"]+$/)).default([]),
  })
  .strict();
const basicUser = z
  .object({
    password: z.string().min(8, 'a password needs at least 8 characters').regex(/^[^,\s]+$/),
    user: z.string().min(1).regex(/^[^,]+$/),
    uid: z.string().min(1).regex(/^[^,]+$/),
    groups: z.array(z.string().regex(/^[^,"]+$/)).default([]),
  })
  .strict();

export const clusterSchema = z
  .object({
    name: dns.optional(),
    kubernetes: z
      .object({
        version: z.string().regex(/^v?\d+\.\d+\.\d+$/, 'must be a version such as v1.31.2'),
        imageRepository: z.string().default('registry.k8s.io'),
        images: z
          .object({
            etcd: z.string(),
            apiserver: z.string(),
            controllerManager: z.string(),
            scheduler: z.string(),
            coredns: z.string(),
            kubedns: z.string(),
            dnsmasq: z.string(),
            dnsSidecar: z.string(),
          })
          .partial()
          .strict()
          .default({}),
      })
      .strict(),
    network: z
      .object({
        serviceCIDR: cidr.default('10.96.0.0/12'),
        podCIDR: cidr.default('10.244.0.0/16'),
        clusterDomain: dns.default('cluster.local'),
        dnsServiceIP: ipv4.optional(),
      })
      .strict()
      .default({ serviceCIDR: '10.96.0.0/12', podCIDR: '10.244.0.0/16', clusterDomain: 'cluster.local' }),
    api: z
      .object({
        vip: ipv4,
        port: port.default(6443),
        apiserverPort: port.default(6443),
        extraSANs: z.array(z.string()).default([]),
        maxRequestsInflight: z.number().int().min(1).optional(),
        maxMutatingRequestsInflight: z.number().int().min(1).optional(),
      })
      .strict(),
    loadBalancer: z
      .object({
        kind: z.enum(['haproxy', 'nginx']).default('haproxy'),
        interface: z.string().regex(/^[A-Za-z0-9_.:-]{1,15}$/, 'must be a network interface name').default('eth0'),
        virtualRouterId: z.number().int().min(1).max(255).default(51),
        authPass: z.string().max(8, 'VRRP PASS authentication takes at most 8 characters').optional(),
        // reload: the commands an lb node runs after its config changed (default: systemctl reload).
        reload: z
          .object({ lb: z.array(z.string()).min(1).optional(), keepalived: z.array(z.string()).min(1).optional() })
          .strict()
          .default({}),
      })
      .strict()
      .default({ kind: 'haproxy', interface: 'eth0', virtualRouterId: 51, reload: {} }),
    etcd: z
      .object({
        // discovery: an etcd v2 discovery URL (`muster discovery new`); absent means a static initial cluster.
        discovery: z.string().url().optional(),
      })
      .strict()
      .default({}),
    authentication: z
      .object({
        tokens: z.array(token).default([]),
        basicAuth: z.array(basicUser).default([]),
      })
      .strict()
      .default({ tokens: [], basicAuth: [] }),
    dns: z
      .object({
        provider: z.enum(['coredns', 'kube-dns']).default('coredns'),
        replicas: z.number().int().min(1).optional(),
        cacheSize: z.number().int().min(0).default(10000),
        forwardMax: z.number().int().min(1).default(1000),
      })
      .strict()
      .default({ provider: 'coredns', cacheSize: 10000, forwardMax: 1000 }),
    // templates: operator manifests (relative to this file) used instead of the built-in ones.
    templates: z
      .object({ etcd: z.string(), 'kube-apiserver': z.string(), 'kube-controller-manager': z.string(), 'kube-scheduler': z.string() })
      .partial()
      .strict()
      .default({}),
    // drift: what agents do when a managed file changes behind their back.
    drift: z.enum(['enforce', 'report']).default('enforce'),
    probes: z
      .object({
        intervalSeconds: z.number().int().min(1).max(3600).default(10),
        // kubeletUrl: the kubelet's local health endpoint (--healthz-port, 10248 by default).
        kubeletUrl: z.string().url().default('http://127.0.0.1:10248/healthz'),
        // vip: control-plane nodes also probe the API through the VIP and the load balancer.
        vip: z.boolean().default(true),
      })
      .strict()
      .default({ intervalSeconds: 10, kubeletUrl: 'http://127.0.0.1:10248/healthz', vip: true }),
    // storage: mounts per role, group (labels) or node.
    storage: z
      .array(z.object({ id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be lower-case letters, digits, ".", "_" or "-"'), on: selector.optional(), mount: mountSchema }).strict())
      .default([]),
    // runtime: the container runtime every node gets (containerd, its config.toml).
    runtime: z
      .object({
        containerd: z
          .object({
            // package: Debian's "containerd" by default; version pins it (absent: the distribution's).
            package: z.string().regex(/^[a-z0-9][a-z0-9+.-]{1,99}$/, 'must be a Debian package name').default('containerd'),
            version: z.string().regex(/^[0-9A-Za-z.+~:-]{1,100}$/, 'must be a Debian version such as 1.6.20~ds1-1+b1').optional(),
            sandboxImage: z.string().min(1).default('registry.k8s.io/pause:3.10'),
          })
          .strict()
          .default({ package: 'containerd', sandboxImage: 'registry.k8s.io/pause:3.10' }),
        // restart: the handler commands run after containerd's or the kubelet's config changed.
        restart: z
          .object({ containerd: z.array(z.string()).min(1).optional(), kubelet: z.array(z.string()).min(1).optional() })
          .strict()
          .default({}),
      })
      .strict()
      .default({ containerd: { package: 'containerd', sandboxImage: 'registry.k8s.io/pause:3.10' }, restart: {} }),
    // kubelet: where its package comes from and how it is pinned.
    kubelet: z
      .object({
        // repository: the Kubernetes apt repository (pkgs.k8s.io layout); absent: the node's own apt sources.
        repository: z
          .object({
            url: z.string().url(),
            suite: z.string().min(1).default('/'),
            components: z.array(z.string().regex(/^[A-Za-z0-9._-]+$/)).default([]),
            // keyFile: the repository's OpenPGP key on the controller, relative to this file; read at load.
            keyFile: z.string().min(1),
          })
          .strict()
          .optional(),
        // packageVersion: the Debian version of the kubelet package; default <kubernetes.version>-1.1.
        packageVersion: z.string().regex(/^[0-9A-Za-z.+~:-]{1,100}$/, 'must be a Debian version such as 1.31.2-1.1').optional(),
        maxPods: z.number().int().min(1).max(2500).default(110),
      })
      .strict()
      .default({ maxPods: 110 }),
    // cni: the pod network the addon manager applies; none leaves it to the operator.
    cni: z
      .object({ plugin: z.enum(['flannel', 'none']).default('flannel') })
      .strict()
      .default({ plugin: 'flannel' }),
    // system: false writes only the config files; packages, services, kernel modules, sysctl and swap are left to the operator.
    system: z.object({ manage: z.boolean().default(true) }).strict().default({ manage: true }),
    // pki.layout: seed keeps the control plane's files in /srv/kubernetes; kubeadm in /etc/kubernetes/pki and /etc/kubernetes/*.conf.
    pki: z.object({ layout: z.enum(['seed', 'kubeadm']).default('seed') }).strict().default({ layout: 'seed' }),
    // prune: what leaves a node's plan is removed from it (false keeps it on the host).
    prune: z.boolean().default(true),
    // vars: extra ${NAME} values for templates.
    vars: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({}),
  })
  .strict();

export type ClusterSpecInput = z.output<typeof clusterSchema>;

export interface ClusterSpec {
  file: string;
  dir: string;
  value: ClusterSpecInput;
  templates: Map<string, { file: string; text: string }>;
  // the Kubernetes apt repository's key, read from kubelet.repository.keyFile at load
  repositoryKey?: Buffer;
  locate(path: readonly PropertyKey[]): { line: number; column: number };
}

export async function loadClusterSpec(file: string, inv: Inventory): Promise<ClusterSpec> {
  const { value, locate } = loadYaml(file, await readSpec(file), clusterSchema);
  const problems: SpecProblem[] = [];
  const at = (p: PropertyKey[], message: string) => problems.push({ file, ...locate(p), field: p.map(String).join('.'), message });
  const version = parseVersion(value.kubernetes.version);

  if (value.authentication.basicAuth.length && (version.major > 1 || version.minor >= 19)) {
    at(['authentication', 'basicAuth'], `basic authentication (--basic-auth-file) was removed in Kubernetes 1.19; ${value.kubernetes.version} refuses it. Use x509 client certificates (the default) or tokens`);
  }
  const roles = (r: string) => inv.nodes.filter((n) => n.roles.includes(r as never));
  if (!roles('control-plane').length) at(['api'], `the inventory ${inv.file} has no control-plane node`);
  const etcd = roles('etcd');
  if (!etcd.length) at(['etcd'], `the inventory ${inv.file} has no etcd node`);
  else if (etcd.length % 2 === 0) at(['etcd'], `${etcd.length} etcd members tolerate no more failures than ${etcd.length - 1}; use an odd number`);
  if (!roles('lb').length) at(['loadBalancer'], `the inventory ${inv.file} has no lb node to hold the VIP ${value.api.vip}`);
  if (inv.nodes.some((n) => n.address === value.api.vip)) at(['api', 'vip'], `the VIP ${value.api.vip} is also a node's address`);
  if (!inCidr(value.network.dnsServiceIP ?? nthIp(value.network.serviceCIDR, 10), value.network.serviceCIDR)) {
    at(['network', 'dnsServiceIP'], `must lie inside serviceCIDR ${value.network.serviceCIDR}`);
  }
  if (overlaps(value.network.serviceCIDR, value.network.podCIDR)) at(['network', 'podCIDR'], `overlaps serviceCIDR ${value.network.serviceCIDR}`);

  const dir = path.dirname(file);
  const templates = new Map<string, { file: string; text: string }>();
  for (const [component, rel] of Object.entries(value.templates)) {
    if (!rel) continue;
    const abs = path.resolve(dir, rel);
    try {
      templates.set(component, { file: abs, text: await readSpec(abs) });
    } catch {
      at(['templates', component], `${abs} cannot be read`);
    }
  }
  let repositoryKey: Buffer | undefined;
  const repo = value.kubelet.repository;
  if (repo) {
    const abs = path.resolve(dir, repo.keyFile);
    try {
      repositoryKey = await fs.readFile(abs);
      if (repositoryKey.length > MAX_KEY_BYTES) at(['kubelet', 'repository', 'keyFile'], `${abs} is ${repositoryKey.length} bytes; an apt signing key is at most ${MAX_KEY_BYTES}`);
      else if (!looksLikePgpKey(repositoryKey)) at(['kubelet', 'repository', 'keyFile'], `${abs} is not an OpenPGP public key (ASCII-armored or binary)`);
    } catch {
      at(['kubelet', 'repository', 'keyFile'], `${abs} cannot be read`);
    }
  }
  if (problems.length) throw new SpecError(problems);
  return { file, dir, value, templates, repositoryKey, locate };
}

const MAX_KEY_BYTES = 64 * 1024;

// An armored public key block (at the very start, as the agent names .asc files), or a binary packet whose first tag is a public key (tag 6).
function looksLikePgpKey(b: Buffer): boolean {
  if (b.subarray(0, 36).toString('latin1') === '-----BEGIN PGP PUBLIC KEY BLOCK-----') return true;
  const first = b[0] ?? 0;
  if (!(first & 0x80)) return false;
  const tag = first & 0x40 ? first & 0x3f : (first >> 2) & 0x0f;
  return tag === 6;
}

export function parseVersion(raw: string): { raw: string; major: number; minor: number; patch: number } {
  const [major, minor, patch] = raw.replace(/^v/, '').split('.').map(Number);
  return { raw: raw.startsWith('v') ? raw : `v${raw}`, major, minor, patch };
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

function range(c: string): [number, number] {
  const [ip, bits] = c.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(ipToInt(ip) / size) * size;
  return [start, start + size - 1];
}

// The n-th address of a CIDR: 1 is the kubernetes Service, 10 the DNS Service by convention.
export function nthIp(c: string, n: number): string {
  return intToIp(range(c)[0] + n);
}

function inCidr(ip: string, c: string): boolean {
  const [a, b] = range(c);
  const x = ipToInt(ip);
  return x > a && x < b;
}

function overlaps(x: string, y: string): boolean {
  const [a1, b1] = range(x);
  const [a2, b2] = range(y);
  return a1 <= b2 && a2 <= b1;
}
