import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { ClusterRole, type IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding, type IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import { ServiceAccount, type IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { dnsScale, renderDnsAddon } from './dns.js';
import { exampleModel, kubeDnsModel } from './fixtures.js';
import { documents } from './testing.js';

type Doc = ReturnType<typeof documents>[number];

function byKind(yaml: string) {
  const docs = documents(yaml);
  const one = <T>(kind: string): T => {
    const found = docs.filter((d) => d.kind === kind);
    assert.equal(found.length, 1, `exactly one ${kind}`);
    return found[0] as T;
  };
  return {
    docs,
    sa: () => one<IServiceAccount>('ServiceAccount'),
    role: () => one<IClusterRole>('ClusterRole'),
    binding: () => one<IClusterRoleBinding>('ClusterRoleBinding'),
    configMap: () => one<IConfigMap>('ConfigMap'),
    deployment: () => one<IDeployment>('Deployment'),
    service: () => one<IService>('Service'),
  };
}

const MODELS: Record<string, { new (data: never): { validate(): void } }> = {
  'v1/ServiceAccount': ServiceAccount,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'v1/ConfigMap': ConfigMap,
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
};

function validateAll(docs: Doc[]): void {
  for (const d of docs) {
    const Model = MODELS[`${d.apiVersion}/${d.kind}`];
    assert.ok(Model, `unexpected ${d.apiVersion} ${d.kind}`);
    new Model(d as never).validate();
  }
}

describe('renderDnsAddon (coredns)', () => {
  it('renders every object the addon needs, each valid for its kind, all in kube-system', () => {
    const { docs } = byKind(renderDnsAddon(exampleModel()));
    assert.deepEqual(docs.map((d) => d.kind), ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'Service']);
    validateAll(docs);
    for (const d of docs) if (!d.kind.startsWith('Cluster')) assert.equal(d.metadata.namespace, 'kube-system', d.kind);
  });

  it('runs model.dns.replicas replicas with model.dns.resources, spread across nodes', () => {
    const m = exampleModel();
    m.dns.replicas = 5;
    m.dns.resources = { requests: { cpu: '70m', memory: '70Mi' }, limits: { cpu: '100m', memory: '512Mi' } };
    const d = byKind(renderDnsAddon(m)).deployment();
    assert.equal(d.spec?.replicas, 5);
    const pod = d.spec!.template.spec!;
    assert.equal(pod.containers.length, 1);
    assert.equal(pod.containers[0]!.image, m.images.coredns);
    assert.deepEqual(pod.containers[0]!.resources, m.dns.resources);
    const anti = pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm;
    assert.equal(anti?.topologyKey, 'kubernetes.io/hostname');
    assert.deepEqual(anti?.labelSelector?.matchExpressions, [{ key: 'k8s-app', operator: 'In', values: ['kube-dns'] }]);
    assert.deepEqual(d.spec?.selector.matchLabels, d.spec?.template.metadata?.labels);
    assert.equal(pod.priorityClassName, 'system-cluster-critical');
    assert.equal(pod.dnsPolicy, 'Default');
  });

  it('writes a Corefile serving the cluster domain and reverse zones, caching and forwarding to the node resolver', () => {
    const m = exampleModel();
    m.network.clusterDomain = 'k8s.example';
    const cm = byKind(renderDnsAddon(m)).configMap();
    const corefile = cm.data?.Corefile ?? '';
    assert.match(corefile, /^\s*kubernetes k8s\.example in-addr\.arpa ip6\.arpa \{$/m);
    assert.match(corefile, /^\s*forward \. \/etc\/resolv\.conf \{$/m);
    assert.match(corefile, /^\s*max_concurrent 1000$/m);
    assert.match(corefile, /^\s*cache 30 \{$/m);
    assert.match(corefile, /^\s*success 10000$/m);
    assert.match(corefile, /^\s*prometheus :9153$/m);
    const d = byKind(renderDnsAddon(m)).deployment();
    assert.equal(d.spec?.template.spec?.volumes?.[0]?.configMap?.name, cm.metadata?.name);
  });

  it('binds its service account to a role that can list and watch what DNS serves', () => {
    const a = byKind(renderDnsAddon(exampleModel()));
    const sa = a.sa();
    const role = a.role();
    const binding = a.binding();
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata?.name });
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata?.name, namespace: 'kube-system' }]);
    assert.equal(a.deployment().spec?.template.spec?.serviceAccountName, sa.metadata?.name);
    const can = (group: string, resource: string) =>
      role.rules?.some((r) => r.apiGroups?.includes(group) && r.resources?.includes(resource) && r.verbs.includes('list') && r.verbs.includes('watch'));
    for (const r of ['endpoints', 'services', 'namespaces', 'pods']) assert.ok(can('', r), r);
    assert.ok(can('discovery.k8s.io', 'endpointslices'));
  });

  it('exposes DNS on the fixed cluster IP over UDP and TCP, plus metrics', () => {
    const a = byKind(renderDnsAddon(exampleModel()));
    const svc = a.service();
    assert.equal(svc.metadata?.name, 'kube-dns');
    assert.equal(svc.spec?.clusterIP, '10.96.0.10');
    assert.deepEqual(
      svc.spec?.ports?.map((p) => [p.port, p.protocol]),
      [[53, 'UDP'], [53, 'TCP'], [9153, 'TCP']],
    );
    assert.deepEqual(svc.spec?.selector, a.deployment().spec?.template.metadata?.labels);
    const containerPorts = a.deployment().spec!.template.spec!.containers.flatMap((c) => c.ports ?? []).map((p) => p.containerPort);
    for (const p of svc.spec?.ports ?? []) assert.ok(containerPorts.includes(p.targetPort as number), `targetPort ${p.targetPort}`);
  });
});

describe('renderDnsAddon (kube-dns)', () => {
  const m = kubeDnsModel();
  const a = byKind(renderDnsAddon(m));
  const containers = a.deployment().spec!.template.spec!.containers;
  const container = (name: string) => containers.find((c) => c.name === name)!;

  it('runs kubedns, dnsmasq and sidecar, every document valid', () => {
    assert.deepEqual(containers.map((c) => c.name), ['kubedns', 'dnsmasq', 'sidecar']);
    assert.deepEqual(a.docs.map((d) => d.kind), ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Service']);
    validateAll(a.docs);
    assert.equal(container('kubedns').image, m.images.kubedns);
    assert.equal(container('dnsmasq').image, m.images.dnsmasq);
    assert.equal(container('sidecar').image, m.images.dnsSidecar);
  });

  it('serves the cluster domain from kubedns behind dnsmasq with the seed cache and forward limits', () => {
    assert.ok(container('kubedns').args?.includes('--domain=cluster.local.'));
    const args = container('dnsmasq').args ?? [];
    assert.ok(args.includes('--cache-size=10000'));
    assert.ok(args.includes('--dns-forward-max=1000'));
    assert.ok(args.includes('--no-negcache'));
    assert.ok(args.includes('--server=/cluster.local/127.0.0.1#10053'));
    assert.ok(args.includes('--server=/in-addr.arpa/127.0.0.1#10053'));
    assert.ok(args.indexOf('--') < args.indexOf('--cache-size=10000'), 'dnsmasq flags come after the nanny separator');
  });

  it('follows the model: cache size, forward max and replicas', () => {
    const n = kubeDnsModel();
    n.dns.cacheSize = 20000;
    n.dns.forwardMax = 150;
    n.dns.replicas = 6;
    const d = byKind(renderDnsAddon(n)).deployment();
    const dnsmasq = d.spec!.template.spec!.containers.find((c) => c.name === 'dnsmasq')!;
    assert.ok(dnsmasq.args?.includes('--cache-size=20000'));
    assert.ok(dnsmasq.args?.includes('--dns-forward-max=150'));
    assert.equal(d.spec?.replicas, 6);
  });

  it('puts the model resources on the kubedns container', () => {
    assert.deepEqual(container('kubedns').resources, m.dns.resources);
    assert.notDeepEqual(container('dnsmasq').resources, m.dns.resources);
  });

  it('points every Service port at a port some container serves', () => {
    const svc = a.service();
    assert.equal(svc.spec?.clusterIP, m.network.dnsServiceIP);
    const served = containers.flatMap((c) => c.ports ?? []).map((p) => p.containerPort);
    for (const p of svc.spec?.ports ?? []) assert.ok(served.includes(p.targetPort as number), `targetPort ${p.targetPort}`);
    const names = containers.flatMap((c) => c.ports ?? []).map((p) => `${p.name}/${p.protocol}`);
    assert.equal(new Set(names).size, names.length, 'container port names are unique in the pod');
  });
});

describe('dnsScale', () => {
  it('sizes small and large clusters', () => {
    const small = { requests: { cpu: '70m', memory: '70Mi' }, limits: { cpu: '100m', memory: '170Mi' } };
    const large = { requests: { cpu: '70m', memory: '70Mi' }, limits: { cpu: '100m', memory: '512Mi' } };
    assert.deepEqual(dnsScale(10), { replicas: 2, resources: small });
    assert.deepEqual(dnsScale(100), { replicas: 6, resources: large });
    assert.deepEqual(dnsScale(200), { replicas: 6, resources: large });
    assert.deepEqual(dnsScale(1000), { replicas: 6, resources: large });
    assert.deepEqual(dnsScale(5000), { replicas: 6, resources: large });
  });

  it('grows one replica per 16 nodes between the floor of 2 and the cap of 6', () => {
    assert.equal(dnsScale(0).replicas, 2);
    assert.equal(dnsScale(1).replicas, 2);
    assert.equal(dnsScale(16).replicas, 2);
    assert.equal(dnsScale(32).replicas, 2);
    assert.equal(dnsScale(33).replicas, 3);
    assert.equal(dnsScale(64).replicas, 4);
    assert.equal(dnsScale(80).replicas, 5);
    assert.equal(dnsScale(81).replicas, 6);
    assert.equal(dnsScale(16).resources.limits.memory, '170Mi');
    assert.equal(dnsScale(17).resources.limits.memory, '512Mi');
  });

  it('never shrinks as the cluster grows', () => {
    let previous = dnsScale(0);
    for (let n = 1; n <= 6000; n++) {
      const current = dnsScale(n);
      assert.ok(current.replicas >= previous.replicas, `replicas at ${n}`);
      assert.ok(parseInt(current.resources.limits.memory) >= parseInt(previous.resources.limits.memory), `memory at ${n}`);
      previous = current;
    }
  });

  it('refuses a nonsensical node count', () => {
    assert.throws(() => dnsScale(-1), /dns: node count/);
    assert.throws(() => dnsScale(2.5), /dns: node count/);
  });
});
