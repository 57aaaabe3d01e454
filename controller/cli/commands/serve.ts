import { serve } from '../../app/serve.js';
import type { ApprovalPolicy } from '../../enroll/index.js';
import { EXIT, untilSignal, type GlobalOptions, type Io } from '../io.js';

export async function run(o: GlobalOptions & { listen: string; store?: string; id?: string; san?: string[]; enroll: boolean; enrollListen: string; enrollPolicy: ApprovalPolicy; enrollSan?: string[] }, io: Io): Promise<number> {
  const line = (obj: object, msg: string) => io.out(`[enroll] ${msg}${Object.entries(obj).map(([k, v]) => ` ${k}=${String(v)}`).join('')}`);
  const server = await serve({
    ...o,
    store: { url: o.store },
    sans: o.san,
    enroll: o.enroll && { listen: o.enrollListen, policy: o.enrollPolicy, sans: o.enrollSan },
    onDrift: (node, d) => io.out(`[drift] ${node}: ${d.path} ${d.what}${d.repaired ? ', repaired' : ''}${d.error ? `: ${d.error}` : ''}`),
    log: { info: line, warn: line },
  });
  io.out(`[serve] watching ${server.nodes} agents; API on ${server.url} (mutual TLS: operator or reader certificates from "muster certs issue"); store ${server.store}; id ${server.id}`);
  if (server.enroll) io.out(`[serve] enrollment on ${o.enrollListen.replace(/:\d+$/, `:${server.enroll.port}`)} (policy ${o.enrollPolicy}); CA hash ${server.enroll.caCertHash}; make a token with "muster token create"`);
  await untilSignal();
  await server.close();
  return EXIT.OK;
}
