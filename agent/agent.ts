import * as grpc from '@grpc/grpc-js';
import type { Server as HttpServer } from 'node:http';
import { pino, type Logger } from 'pino';
import type { Plan } from '../proto/gen/muster/agent/v1/agent.js';
import { Engine } from './engine/engine.js';
import { AgentError } from './errors.js';
import { FactsCache } from './facts/facts.js';
import { Host } from './host/host.js';
import { linuxKernel, type Kernel } from './host/kernel.js';
import { DEFAULT_ALLOWED_TREES } from './host/path-policy.js';
import { localChecks } from './probes/local.js';
import { ProbeRunner } from './probes/probes.js';
import type { RuntimeOptions } from './probes/running-pods.js';
import { AgentServiceService, agentService } from './server/grpc.js';
import { Health } from './server/health.js';
import { buildHttp, close as closeHttp, listen as listenHttp } from './server/http.js';
import { AgentMetrics } from './server/metrics.js';
import { StatusHub } from './status/hub.js';
import { DriftWatcher, type DriftOptions } from './watch/drift.js';

export interface AgentOptions {
  name: string;
  // root prefix of every host path: "/" on a node, a folder in tests and simulations.
  root: string;
  stateDir?: string;
  allowedTrees?: string[];
  listen: { host: string; port: number };
  // http serves /healthz, /readyz, /status and /metrics; false leaves it off (the fleet simulator).
  http: { host: string; port: number } | false;
  tls: { ca: Buffer; cert: Buffer; key: Buffer };
  // credentials replace tls when set: agent/join's renewable ones.
  credentials?: grpc.ServerCredentials;
  // revoked serials refused on every call (agent/join keeps them fresh).
  revoked?: { has(serial: string): boolean };
  log?: Logger;
  // drift: false turns off watching and probes (the fleet simulator measures applies alone).
  drift?: DriftOptions | false;
  // what the kernel says; the real one unless a test gives a fake
  kernel?: Kernel;
  // How the static-pods probe asks the container runtime for its running pods (crictl, socket).
  runtime?: RuntimeOptions;
}

export interface Agent {
  name: string;
  engine: Engine;
  hub: StatusHub;
  drift?: DriftWatcher;
  // resolves once the start-up reconcile of the saved plan has ended
  converged: Promise<void>;
  grpcPort: number;
  httpPort?: number;
  // stop lets the task in flight finish, then closes both servers.
  stop(): Promise<void>;
}

// One agent instance; a process may host many (the fleet simulator and tests do).
export async function startAgent(o: AgentOptions): Promise<Agent> {
  const startedAtMs = Date.now();
  const log = (o.log ?? pino({ level: 'info' })).child({ node: o.name });
  const host = new Host({ root: o.root, allowedTrees: o.allowedTrees ?? DEFAULT_ALLOWED_TREES, stateDir: o.stateDir ?? '/var/lib/musterd' });
  let serving = false;
  let metrics: AgentMetrics | undefined;
  let drift: DriftWatcher | undefined;
  const probes = new ProbeRunner(host, log, () => hub.changed());
  const kernel = o.kernel ?? linuxKernel(host.root);
  const engine = new Engine(host, log, {
    task: (r) => metrics?.task(r),
    summary: (s) => {
      metrics?.summary(s);
      hub.changed();
      // What a run changed, the probes see now rather than at their next interval.
      if (s.changed > 0 && o.drift !== false) void probes.runAll().then(() => hub.changed());
    },
    // A new desired state: probe what it asks, watch what it manages.
    applied: (plan) => {
      if (o.drift === false) return;
      probes.set(plan.probes, localChecks(plan, host, log, (m) => (hub.mounts = m), kernel, o.runtime));
      void drift?.follow(plan);
    },
  }, kernel);
  const hub = new StatusHub(o.name, engine, probes, startedAtMs, () => serving);
  await engine.init();
  if (o.http) metrics = new AgentMetrics(() => hub.current());
  if (o.drift !== false) {
    drift = new DriftWatcher(engine, host, log, (e) => {
      metrics?.drift(e);
      hub.drift(e);
    }, o.drift);
  }

  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 << 20 });
  server.addService(AgentServiceService, agentService({ name: o.name, engine, facts: new FactsCache(), hub, log, revoked: o.revoked, host }));
  const health = new Health({ '': 'SERVING', 'muster.agent.v1.AgentService': 'SERVING' });
  health.addToServer(server);
  // true: a client certificate signed by the fleet CA is required.
  const creds = o.credentials ?? grpc.ServerCredentials.createSsl(o.tls.ca, [{ cert_chain: o.tls.cert, private_key: o.tls.key }], true);
  const grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${o.listen.host}:${o.listen.port}`, creds, (err, port) => (err ? reject(err) : resolve(port))),
  );
  serving = true;
  hub.changed();

  let http: HttpServer | undefined;
  let httpPort: number | undefined;
  if (o.http && metrics) {
    http = buildHttp({ name: o.name, status: () => hub.current(), metrics });
    httpPort = await listenHttp(http, o.http.host, o.http.port);
  }
  log.info({ grpcPort, httpPort, root: o.root, revision: engine.status.revision || undefined }, 'agent started');

  // Serve first, converge after: the node stays reachable (and says "converging") while the plan
  // on disk is replayed, controller or not.
  const plan = engine.status.plan;
  const converged = drift && plan ? converge(plan, drift) : Promise.resolve();
  async function converge(p: Plan, w: DriftWatcher): Promise<void> {
    hub.converging = p.revision;
    hub.changed();
    try {
      await w.follow(p);
      probes.set(p.probes, localChecks(p, host, log, (m) => (hub.mounts = m), kernel, o.runtime));
      await w.reconcile('all');
      // The probes look again at what the reconcile repaired, not 30 s later.
      await probes.runAll();
    } catch (err) {
      // A stop during the replay ends it on purpose.
      if (!(err instanceof AgentError && err.code === 'SHUTTING_DOWN')) log.error({ err }, 'start-up reconcile failed');
    } finally {
      hub.converging = undefined;
      hub.changed();
    }
  }

  return {
    name: o.name,
    engine,
    hub,
    drift,
    converged,
    grpcPort,
    httpPort,
    async stop() {
      serving = false;
      health.setStatus('', 'NOT_SERVING');
      health.close();
      probes.stop();
      hub.close();
      await drift?.close();
      await engine.drain();
      await converged;
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 5000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      if (http) await closeHttp(http);
      log.info('agent stopped');
    },
  };
}
