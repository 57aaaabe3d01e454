import { serve } from '../../app/serve.js';
import type { ApprovalPolicy } from '../../enroll/index.js';
import { EXIT, untilSignal, type GlobalOptions, type Io } from '../io.js';

export async function run(o: GlobalOptions & { listen: string; enroll: boolean; enrollListen: string; enrollPolicy: ApprovalPolicy; enrollSan?: string[] }, io: Io): Promise<number> {
  const line = (obj: object, msg: string) => io.out(`[enroll] ${msg}${Object.entries(obj).map(([k, v]) => ` ${k}=${String(v)}`).join('')}`);
  const server = await serve({
    ...o,
    enroll: o.enroll && { listen: o.enrollListen, policy: o.enrollPolicy, sans: o.enrollSan },
    onDrift: (node, d) => io.out(`[drift] ${node}: ${d.path} ${d.what}${d.repaired ? ', repaired' : ''}${d.error ? `: ${d.error}` : ''}`),
    log: { info: line, warn: line },
  });
  io.out(`[serve] watching ${server.nodes} agents; http://${o.listen}/v1/fleet, /v1/nodes/<name>, /metrics, /healthz`);
  if (server.enroll) io.out(`[serve] enrollment on ${o.enrollListen.replace(/:\d+$/, `:${server.enroll.port}`)} (policy ${o.enrollPolicy}); CA hash ${server.enroll.caCertHash}; make a token with "muster token create"`);
  await untilSignal();
  await server.close();
  return EXIT.OK;
}
