import net from 'node:net';
import { AgentError } from '../../errors.js';

// host or host:port, [v6]:port, or a bare v6 address.
export function splitHostPort(address: string, defaultPort: number): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(address);
  if (v6) return { host: v6[1], port: v6[2] ? Number(v6[2]) : defaultPort };
  if (net.isIPv6(address)) return { host: address, port: defaultPort };
  const i = address.lastIndexOf(':');
  if (i > 0 && /^\d+$/.test(address.slice(i + 1))) return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
  return { host: address, port: defaultPort };
}

export function joinHostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

export function tcpAnswers(host: string, port: number, timeoutMs = 5000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

// A mount against a server that does not answer hangs until its own (long) timeout; a TCP
// connect fails in seconds and names the server. Any one address answering is enough.
export async function requireReachable(what: string, addresses: { host: string; port: number }[]): Promise<void> {
  for (const a of addresses) if (await tcpAnswers(a.host, a.port)) return;
  throw new AgentError('STORAGE_UNREACHABLE', `${what}: no answer on ${addresses.map((a) => joinHostPort(a.host, a.port)).join(', ')} (TCP)`);
}
