import fs from 'node:fs';
import { loadYaml, type Schema } from '../common/yaml-load.js';

// The agent's config is checked by hand, not with zod: zod is 5 MiB of every agent's idle
// memory for nine fields (docs/benchmarks.md). The controller's specs use zod.

export interface AgentConfig {
  name: string;
  listen: string;
  http: string; // host:port or "off"
  root: string;
  stateDir: string;
  allowedTrees?: string[];
  tls: { ca: string; cert: string; key: string };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  // join: how to get a fleet certificate (and renew it) from the controller's enrollment service.
  join?: { controller: string; token?: string; caCertHash?: string };
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/;
const DEFAULTS = {
  listen: '0.0.0.0:7443',
  http: '127.0.0.1:7444',
  root: '/',
  stateDir: '/var/lib/musterd',
  tls: { ca: '/etc/muster/pki/ca.crt', cert: '/etc/muster/pki/agent.crt', key: '/etc/muster/pki/agent.key' },
  logLevel: 'info',
};

type Issue = { path: PropertyKey[]; message: string };

// Checks a config object; `partial` leaves the name to the flags.
function check(data: unknown, partial: boolean): { value?: Partial<AgentConfig>; issues: Issue[] } {
  const issues: Issue[] = [];
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return { issues: [{ path: [], message: 'the config is not a mapping' }] };
  const d = data as Record<string, unknown>;
  const bad = (path: PropertyKey[], message: string) => issues.push({ path, message });
  const str = (k: string, test?: (v: string) => string | undefined) => {
    if (d[k] === undefined) return;
    if (typeof d[k] !== 'string') return bad([k], 'must be a string');
    const problem = test?.(d[k] as string);
    if (problem) bad([k], problem);
  };
  for (const k of Object.keys(d)) {
    if (!['name', 'listen', 'http', 'root', 'stateDir', 'allowedTrees', 'tls', 'logLevel', 'join'].includes(k)) bad([], `Unrecognized key: "${k}"`);
  }
  str('name', (v) => (v ? undefined : 'must not be empty'));
  if (!partial && d.name === undefined) bad(['name'], 'is required: this node\'s name, as in the inventory');
  str('listen', (v) => (HOST_PORT.test(v) ? undefined : 'must be host:port'));
  str('http', (v) => (v === 'off' || HOST_PORT.test(v) ? undefined : 'must be host:port or "off"'));
  str('root');
  str('stateDir', (v) => (v.startsWith('/') ? undefined : 'must start with "/"'));
  str('logLevel', (v) => (LOG_LEVELS.includes(v) ? undefined : `must be one of ${LOG_LEVELS.join(', ')}`));
  if (d.allowedTrees !== undefined) {
    if (!Array.isArray(d.allowedTrees)) bad(['allowedTrees'], 'must be a list of absolute paths');
    else d.allowedTrees.forEach((t, i) => (typeof t === 'string' && t.startsWith('/') ? undefined : bad(['allowedTrees', i], 'must be an absolute path')));
  }
  if (d.tls !== undefined) {
    if (d.tls === null || typeof d.tls !== 'object' || Array.isArray(d.tls)) bad(['tls'], 'must be a mapping of ca, cert and key');
    else {
      for (const [k, v] of Object.entries(d.tls)) {
        if (!['ca', 'cert', 'key'].includes(k)) bad(['tls'], `Unrecognized key: "${k}"`);
        else if (typeof v !== 'string') bad(['tls', k], 'must be a file path');
      }
    }
  }
  if (d.join !== undefined) checkJoin(d.join, bad);
  return { value: issues.length ? undefined : (d as Partial<AgentConfig>), issues };
}

function checkJoin(join: unknown, bad: (path: PropertyKey[], message: string) => void): void {
  if (join === null || typeof join !== 'object' || Array.isArray(join)) return bad(['join'], 'must be a mapping of controller, token and caCertHash');
  const j = join as Record<string, unknown>;
  for (const k of Object.keys(j)) if (!['controller', 'token', 'caCertHash'].includes(k)) bad(['join'], `Unrecognized key: "${k}"`);
  if (typeof j.controller !== 'string' || !HOST_PORT.test(j.controller)) bad(['join', 'controller'], 'is required and must be host:port of the controller\'s enrollment service');
  if (j.token !== undefined && (typeof j.token !== 'string' || !/^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(j.token))) bad(['join', 'token'], 'must be a bootstrap token <6 characters>.<16 characters> of a-z and 0-9');
  if (j.caCertHash !== undefined && (typeof j.caCertHash !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(j.caCertHash))) bad(['join', 'caCertHash'], 'must be sha256:<64 hex digits>');
}

const schema = (partial: boolean): Schema<Partial<AgentConfig>> => ({
  safeParse(data) {
    const { value, issues } = check(data, partial);
    return value ? { success: true, data: value } : { success: false, error: { issues } };
  },
});

// Reads the config file (when given; errors name its lines) and lays the flags over it.
export function loadConfig(file: string | undefined, flags: Partial<Record<keyof AgentConfig, unknown>>): AgentConfig {
  const fromFile = file ? loadYaml(file, fs.readFileSync(file, 'utf8'), schema(true)).value : {};
  const given = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
  const join = fromFile.join || given.join ? { join: { ...fromFile.join, ...(given.join as object | undefined) } } : {};
  const merged = { ...fromFile, ...given, ...join, tls: { ...DEFAULTS.tls, ...fromFile.tls, ...(given.tls as object | undefined) } };
  const { value, issues } = check(merged, false);
  if (!value) {
    const where = file ? ` (config ${file} and flags)` : ' (flags)';
    throw new Error(issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}${where}`).join('\n'));
  }
  return { ...DEFAULTS, ...value, tls: merged.tls } as AgentConfig;
}

export function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) };
}
