import { posix } from 'node:path';
import { FILES, type ClusterModel, type EtcdMember } from '../model.js';
import { flags, renderStaticPod } from './pod.js';

/** Plain-HTTP metrics and /health listener on loopback: the kubelet's probe cannot present a client certificate. */
export const ETCD_METRICS_PORT = 2381;

function bootstrapFlags(model: ClusterModel): string[] {
  const b = model.etcd.bootstrap;
  if (b.kind === 'discovery') return flags([['discovery', b.url]]);
  return flags([
    ['initial-cluster', b.initialCluster],
    ['initial-cluster-state', 'new'],
    // A per-cluster token keeps members of two clusters on one network from ever joining each other.
    ['initial-cluster-token', `${model.name}-etcd`],
  ]);
}

/** The etcd static pod of one member: TLS with client-cert auth on both the client and the peer port. */
export function renderEtcd(model: ClusterModel, member: EtcdMember): string {
  if (!model.etcd.members.some((m) => m.name === member.name && m.peerURL === member.peerURL)) {
    throw new Error(`etcd: member "${member.name}" (${member.peerURL}) is not an etcd member of cluster ${model.name}`);
  }
  const pki = (file: string): string => posix.join(model.paths.etcdPki, file);
  const command = [
    'etcd',
    ...flags([
      ['name', member.name],
      ['data-dir', model.paths.etcdData],
      ['listen-client-urls', `https://127.0.0.1:${model.etcd.clientPort},${member.clientURL}`],
      ['advertise-client-urls', member.clientURL],
      ['listen-peer-urls', member.peerURL],
      ['initial-advertise-peer-urls', member.peerURL],
      ['listen-metrics-urls', `http://127.0.0.1:${ETCD_METRICS_PORT}`],
      ['cert-file', pki(FILES.etcdServerCert)],
      ['key-file', pki(FILES.etcdServerKey)],
      ['trusted-ca-file', pki(FILES.etcdPkiCa)],
      ['client-cert-auth', true],
      ['peer-cert-file', pki(FILES.etcdPeerCert)],
      ['peer-key-file', pki(FILES.etcdPeerKey)],
      ['peer-trusted-ca-file', pki(FILES.etcdPkiCa)],
      ['peer-client-cert-auth', true],
      // Before 3.6 etcd keeps 100000 raft entries in memory by default; 10000, as kubeadm sets, bounds that.
      ['snapshot-count', 10000],
    ]),
    ...bootstrapFlags(model),
  ];
  return renderStaticPod(model, {
    component: 'etcd',
    image: model.images.etcd,
    command,
    requests: { cpu: '100m', memory: '100Mi' },
    health: {
      port: ETCD_METRICS_PORT,
      scheme: 'HTTP',
      // serializable: a member cut off from quorum is alive and must not be restarted into a crash loop.
      liveness: '/health?exclude=NOSPACE&serializable=true',
    },
    mounts: [
      { name: 'etcd-data', path: model.paths.etcdData, type: 'DirectoryOrCreate', readOnly: false },
      { name: 'etcd-certs', path: model.paths.etcdPki, type: 'Directory', readOnly: true },
    ],
  });
}
