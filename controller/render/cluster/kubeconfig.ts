import { stringify } from 'yaml';

export interface KubeconfigInput {
  cluster: string;
  server: string; // https://<vip>:<port>
  user: string;
  // Either embedded PEM (a self-contained, secret file) or paths on the node.
  ca: { pem: string } | { file: string };
  client: { certPem: string; keyPem: string } | { certFile: string; keyFile: string };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

// A kubeconfig with one cluster, one user and one context, the way kubeadm writes them.
export function renderKubeconfig(k: KubeconfigInput): string {
  const cluster = 'pem' in k.ca ? { 'certificate-authority-data': b64(k.ca.pem), server: k.server } : { 'certificate-authority': k.ca.file, server: k.server };
  const user = 'certPem' in k.client
    ? { 'client-certificate-data': b64(k.client.certPem), 'client-key-data': b64(k.client.keyPem) }
    : { 'client-certificate': k.client.certFile, 'client-key': k.client.keyFile };
  const context = `${k.user}@${k.cluster}`;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: k.cluster, cluster }],
    users: [{ name: k.user, user }],
    contexts: [{ name: context, context: { cluster: k.cluster, user: k.user } }],
    'current-context': context,
    preferences: {},
  });
}
