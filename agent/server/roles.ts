import type { PeerCertificate } from 'node:tls';

export type Role = 'controller' | 'agent' | 'reader';

interface CallWithAuth {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null;
}

// Roles live in the certificate subject's OU fields; the TLS layer already proved the chain.
export function peerIdentity(call: CallWithAuth): { name: string; roles: string[]; serial: string } {
  const peer = call.getAuthContext()?.sslPeerCertificate;
  const subject = peer?.subject;
  const ou: string | string[] | undefined = subject?.OU;
  const cn: string | string[] | undefined = subject?.CN;
  return {
    name: (Array.isArray(cn) ? cn[0] : cn) ?? '',
    roles: ou === undefined ? [] : Array.isArray(ou) ? ou : [ou],
    serial: peer?.serialNumber ?? '',
  };
}
