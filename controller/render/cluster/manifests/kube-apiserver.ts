import { FILES, type ClusterModel, type ClusterNode } from '../model.js';
import { assertControlPlane, atLeast, flags, renderStaticPod, srvFile, srvMount } from './pod.js';

/** One kube-apiserver behind the VIP; every instance talks to every etcd member. */
export function renderApiserver(model: ClusterModel, node: ClusterNode): string {
  assertControlPlane(model, node, 'kube-apiserver');
  const v = model.version;
  if (model.auth.basicAuth && atLeast(v, 19)) {
    throw new Error(`kube-apiserver: --basic-auth-file was removed in Kubernetes 1.19, but cluster ${model.name} runs ${v.raw} with auth.basicAuth set`);
  }
  const srv = (file: string): string => srvFile(model, file);
  // Bound service-account tokens need a signing key and an issuer; both are mandatory from 1.20.
  const tokenRequest = atLeast(v, 20);
  const command = [
    'kube-apiserver',
    ...flags([
      ['advertise-address', node.ip],
      ['secure-port', model.api.apiserverPort],
      // 1.20 accepts only 0 and serves nothing insecurely; 1.24 removed the flag, so it is only sent where it matters.
      ['insecure-port', atLeast(v, 20) ? undefined : 0],
      ['etcd-servers', model.etcd.members.map((m) => m.clientURL).join(',')],
      ['etcd-cafile', srv(FILES.etcdCa)],
      ['etcd-certfile', srv(FILES.apiserverEtcdClientCert)],
      ['etcd-keyfile', srv(FILES.apiserverEtcdClientKey)],
      ['client-ca-file', srv(FILES.ca)],
      ['tls-cert-file', srv(FILES.apiserverCert)],
      ['tls-private-key-file', srv(FILES.apiserverKey)],
      ['kubelet-client-certificate', srv(FILES.apiserverKubeletClientCert)],
      ['kubelet-client-key', srv(FILES.apiserverKubeletClientKey)],
      // Bare-metal hostnames often do not resolve from the control plane; node IPs always route.
      ['kubelet-preferred-address-types', 'InternalIP,ExternalIP,Hostname'],
      ['service-cluster-ip-range', model.network.serviceCIDR],
      ['service-account-key-file', srv(FILES.serviceAccountPub)],
      ['service-account-signing-key-file', tokenRequest ? srv(FILES.serviceAccountKey) : undefined],
      ['service-account-issuer', tokenRequest ? `https://kubernetes.default.svc.${model.network.clusterDomain}` : undefined],
      ['authorization-mode', 'Node,RBAC'],
      ['enable-admission-plugins', 'NodeRestriction'],
      // The controller-manager runs bootstrapsigner and tokencleaner; the tokens must also authenticate.
      ['enable-bootstrap-token-auth', true],
      ['allow-privileged', true],
      ['max-requests-inflight', model.api.maxRequestsInflight],
      ['max-mutating-requests-inflight', model.api.maxMutatingRequestsInflight],
      // Lease-based reconciliation keeps the kubernetes Endpoints to live apiservers, with no --apiserver-count to keep in sync.
      ['endpoint-reconciler-type', 'lease'],
      // The aggregation layer: the apiserver proxies to extension apiservers (metrics-server) as
      // front-proxy-client, and they trust the X-Remote-* headers from that name only.
      ['requestheader-client-ca-file', srv(FILES.frontProxyCa)],
      ['requestheader-allowed-names', 'front-proxy-client'],
      ['requestheader-username-headers', 'X-Remote-User'],
      ['requestheader-group-headers', 'X-Remote-Group'],
      ['requestheader-extra-headers-prefix', 'X-Remote-Extra-'],
      ['proxy-client-cert-file', srv(FILES.frontProxyClientCert)],
      ['proxy-client-key-file', srv(FILES.frontProxyClientKey)],
      ['token-auth-file', model.auth.tokenAuth ? srv(FILES.knownTokens) : undefined],
      ['basic-auth-file', model.auth.basicAuth ? srv(FILES.basicAuth) : undefined],
    ]),
  ];
  // /livez and /readyz appeared in 1.16; /healthz is all older apiservers have.
  const split = atLeast(v, 16);
  return renderStaticPod(model, {
    component: 'kube-apiserver',
    image: model.images.apiserver,
    command,
    requests: { cpu: '250m' },
    health: {
      port: model.api.apiserverPort,
      scheme: 'HTTPS',
      liveness: split ? '/livez' : '/healthz',
      readiness: split ? '/readyz' : '/healthz',
    },
    // The etcd client certificate is in paths.srv too, so the etcd PKI directory stays off this pod.
    mounts: [srvMount(model)],
  });
}
