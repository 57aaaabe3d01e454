import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { pino } from 'pino';
import { startAgent } from './agent.js';
import { loadConfig, splitHostPort } from './config.js';
import { AGENT_VERSION } from './status/hub.js';

const DEFAULT_CONFIG = '/etc/muster/musterd.yaml';

// musterd: wires config, logging and signals around one agent instance.
const program = new Command('musterd')
  .description('the muster node agent: converges this machine to the plans the controller sends')
  .version(AGENT_VERSION)
  .option('-c, --config <file>', `config file (YAML; default ${DEFAULT_CONFIG} when present)`, process.env.MUSTERD_CONFIG)
  .option('--name <name>', 'this node\'s name, as in the inventory')
  .option('--listen <host:port>', 'gRPC listen address (default 0.0.0.0:7443)')
  .option('--http <host:port|off>', 'health and metrics address (default 127.0.0.1:7444)')
  .option('--root <dir>', 'root prefix of every managed path (default /)')
  .option('--state-dir <dir>', 'state folder, a path under the root (default /var/lib/musterd)')
  .option('--tls-ca <file>', 'fleet CA certificate')
  .option('--tls-cert <file>', 'this agent\'s certificate')
  .option('--tls-key <file>', 'this agent\'s key')
  .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent');

program.action(async (opts) => {
  let config;
  try {
    // An explicit --config must exist; the default file is read only when present.
    const configFile = opts.config ?? (fs.existsSync(DEFAULT_CONFIG) ? DEFAULT_CONFIG : undefined);
    const tls = opts.tlsCa || opts.tlsCert || opts.tlsKey ? { ca: opts.tlsCa, cert: opts.tlsCert, key: opts.tlsKey } : undefined;
    config = loadConfig(configFile, {
      name: opts.name,
      listen: opts.listen,
      http: opts.http,
      root: opts.root,
      stateDir: opts.stateDir,
      logLevel: opts.logLevel,
      tls: tls && Object.fromEntries(Object.entries(tls).filter(([, v]) => v)),
    });
  } catch (err) {
    console.error(`musterd: ${(err as Error).message}`);
    process.exit(2);
  }
  const log = pino({ level: config.logLevel, base: { svc: 'musterd' } });
  const read = (f: string) => fs.readFileSync(path.resolve(f));
  let agent;
  try {
    agent = await startAgent({
      name: config.name,
      root: config.root,
      stateDir: config.stateDir,
      allowedTrees: config.allowedTrees,
      listen: splitHostPort(config.listen),
      http: config.http === 'off' ? false : splitHostPort(config.http),
      tls: { ca: read(config.tls.ca), cert: read(config.tls.cert), key: read(config.tls.key) },
      log,
    });
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'agent failed to start');
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: the task in flight finishes first');
    agent.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
});

program.parseAsync().catch((err) => {
  console.error(`musterd: ${(err as Error).message}`);
  process.exit(1);
});
