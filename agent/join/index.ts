import * as grpc from '@grpc/grpc-js';
import fs from 'node:fs';
import type { Logger } from 'pino';
import { MemoryCertificateProvider } from '../../common/cert-provider.js';
import { startAgent, type Agent, type AgentOptions } from '../agent.js';
import { joinFleet, type JoinSettings, type TlsPaths } from './join.js';
import { RevokedSerials, readCredentials, startLifecycle } from './lifecycle.js';

export { joinFleet } from './join.js';

export interface JoinedAgentOptions extends Omit<AgentOptions, 'tls' | 'credentials' | 'revoked'> {
  tlsPaths: TlsPaths;
  join: Partial<JoinSettings> & { controller: string };
  log: Logger;
  // Tests pass facts and a short trust interval; the daemon reads the machine's.
  facts?: Parameters<typeof joinFleet>[0]['facts'];
  trustEveryMs?: number;
}

// The daemon with join settings: join first when there is no certificate yet, then serve with
// credentials that renewal swaps in place, refusing revoked serials on every call.
export async function startJoinedAgent(o: JoinedAgentOptions): Promise<Agent & { lifecycle: ReturnType<typeof startLifecycle> }> {
  if (!fs.existsSync(o.tlsPaths.cert) || !fs.existsSync(o.tlsPaths.key)) {
    const { token, caCertHash } = o.join;
    if (!token || !caCertHash) throw new Error(`no certificate at ${o.tlsPaths.cert} yet: joining needs a token and a CA hash (--token, --ca-cert-hash or join.token, join.caCertHash)`);
    o.log.info({ controller: o.join.controller }, 'no fleet certificate yet: joining');
    await joinFleet({ controller: o.join.controller, token, caCertHash, name: o.name, tls: o.tlsPaths, facts: o.facts, log: o.log });
  }
  const provider = new MemoryCertificateProvider(await readCredentials(o.tlsPaths));
  const revoked = new RevokedSerials();
  const agent = await startAgent({
    ...o,
    tls: provider.current,
    // true: a client certificate signed by the fleet CA bundle is required.
    credentials: grpc.experimental.createCertificateProviderServerCredentials(provider, provider, true),
    revoked,
  });
  const lifecycle = startLifecycle({ name: o.name, controller: o.join.controller, tls: o.tlsPaths, provider, revoked, log: o.log, trustEveryMs: o.trustEveryMs });
  return {
    ...agent,
    lifecycle,
    async stop() {
      lifecycle.stop();
      await agent.stop();
    },
  };
}
