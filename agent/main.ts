import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { VERSION } from '../common/version.js';
import { startAgent } from './agent.js';
import { loadConfig, splitHostPort } from './config.js';
import { agentLogger } from './log.js';

const DEFAULT_CONFIG = '/etc/muster/musterd.yaml';

// Node's own argument parser: commander would add a megabyte to every idle agent.
const OPTIONS = {
  config: { type: 'string', short: 'c', help: `config file (YAML; default ${DEFAULT_CONFIG} when present, or $MUSTERD_CONFIG)` },
  name: { type: 'string', help: "this node's name, as in the inventory" },
  listen: { type: 'string', help: 'gRPC listen address host:port (default 0.0.0.0:7443)' },
  http: { type: 'string', help: 'health and metrics address host:port, or "off" (default 127.0.0.1:7444)' },
  root: { type: 'string', help: 'root prefix of every managed path (default /)' },
  'state-dir': { type: 'string', help: 'state folder, a path under the root (default /var/lib/musterd)' },
  'tls-ca': { type: 'string', help: 'fleet CA certificate' },
  'tls-cert': { type: 'string', help: "this agent's certificate" },
  'tls-key': { type: 'string', help: "this agent's key" },
  'log-level': { type: 'string', help: 'fatal, error, warn, info, debug, trace or silent' },
  controller: { type: 'string', help: "join: the controller's enrollment service host:port" },
  token: { type: 'string', help: 'join: the bootstrap token (muster token create)' },
  'ca-cert-hash': { type: 'string', help: "join: sha256:<hex> of the fleet CA's public key, pinned" },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
  version: { type: 'boolean', short: 'V', help: 'show the version' },
} as const;

function usage(): string {
  const lines = Object.entries(OPTIONS).map(([k, o]) => `  ${'short' in o ? `-${o.short}, ` : '    '}--${k}${o.type === 'string' ? ' <value>' : ''}`.padEnd(34) + o.help);
  return `Usage: musterd [join] [options]\n\nthe muster node agent: converges this machine to the plans the controller sends\n\nOptions:\n${lines.join('\n')}\n`;
}

function fail(message: string): never {
  process.stderr.write(`musterd: ${message}\n`);
  process.exit(2);
}

let opts;
try {
  const parsed = parseArgs({ options: Object.fromEntries(Object.entries(OPTIONS).map(([k, o]) => [k, { type: o.type, ...('short' in o ? { short: o.short } : {}) }])), strict: true, allowPositionals: true });
  opts = parsed.values as Record<string, string | boolean | undefined>;
  // "musterd join ...": get a fleet certificate first (when there is none), then serve.
  if (parsed.positionals.length > 1 || (parsed.positionals[0] ?? 'join') !== 'join') throw new Error(`unknown command ${parsed.positionals.join(' ')}`);
  if (parsed.positionals[0] === 'join' && !opts.controller) throw new Error('join needs --controller HOST:PORT (and --token, --ca-cert-hash when this node has no certificate yet)');
} catch (err) {
  fail(`${(err as Error).message}\n${usage()}`);
}
if (opts.help) {
  process.stdout.write(usage());
  process.exit(0);
}
if (opts.version) {
  process.stdout.write(`${VERSION}\n`);
  process.exit(0);
}

let config;
try {
  // An explicit --config must exist; the default file is read only when present.
  const explicit = (opts.config as string | undefined) ?? process.env.MUSTERD_CONFIG;
  const configFile = explicit ?? (fs.existsSync(DEFAULT_CONFIG) ? DEFAULT_CONFIG : undefined);
  const tls = opts['tls-ca'] || opts['tls-cert'] || opts['tls-key']
    ? Object.fromEntries(Object.entries({ ca: opts['tls-ca'], cert: opts['tls-cert'], key: opts['tls-key'] }).filter(([, v]) => v))
    : undefined;
  config = loadConfig(configFile, {
    name: opts.name,
    listen: opts.listen,
    http: opts.http,
    root: opts.root,
    stateDir: opts['state-dir'],
    logLevel: opts['log-level'],
    tls,
    join: opts.controller || opts.token || opts['ca-cert-hash'] ? Object.fromEntries(Object.entries({ controller: opts.controller, token: opts.token, caCertHash: opts['ca-cert-hash'] }).filter(([, v]) => v)) : undefined,
  });
} catch (err) {
  fail((err as Error).message);
}

// JSON lines on stdout; under systemd each carries its priority for journald.
const log = agentLogger(config.logLevel);
const read = (f: string) => fs.readFileSync(path.resolve(f));
let agent: Awaited<ReturnType<typeof startAgent>>;
try {
  const common = {
    name: config.name,
    root: config.root,
    stateDir: config.stateDir,
    allowedTrees: config.allowedTrees,
    listen: splitHostPort(config.listen),
    http: config.http === 'off' ? (false as const) : splitHostPort(config.http),
    log,
  };
  // The join code (and node-forge) loads only when the node joins or renews through the controller.
  agent = config.join
    ? await (await import('./join/index.js')).startJoinedAgent({ ...common, tlsPaths: { ca: path.resolve(config.tls.ca), cert: path.resolve(config.tls.cert), key: path.resolve(config.tls.key) }, join: config.join })
    : await startAgent({ ...common, tls: { ca: read(config.tls.ca), cert: read(config.tls.cert), key: read(config.tls.key) } });
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
