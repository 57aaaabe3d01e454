import fs from 'node:fs';
import { z } from 'zod';
import { loadYaml } from '../common/yaml-load.js';

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'must be host:port');

export const configSchema = z
  .object({
    name: z.string().min(1),
    listen: hostPort.default('0.0.0.0:7443'),
    // http is host:port for /healthz, /readyz and /metrics, or "off".
    http: z.union([hostPort, z.literal('off')]).default('127.0.0.1:7444'),
    root: z.string().default('/'),
    stateDir: z.string().startsWith('/').default('/var/lib/musterd'),
    allowedTrees: z.array(z.string().startsWith('/')).optional(),
    tls: z
      .object({
        ca: z.string().default('/etc/muster/pki/ca.crt'),
        cert: z.string().default('/etc/muster/pki/agent.crt'),
        key: z.string().default('/etc/muster/pki/agent.key'),
      })
      .strict()
      .default({ ca: '/etc/muster/pki/ca.crt', cert: '/etc/muster/pki/agent.crt', key: '/etc/muster/pki/agent.key' }),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict();

export type AgentConfig = z.output<typeof configSchema>;

// Reads the config file (when given; errors name its lines) and lays the flags over it.
export function loadConfig(file: string | undefined, flags: Partial<Record<keyof AgentConfig, unknown>>): AgentConfig {
  const fromFile = file ? loadYaml(file, fs.readFileSync(file, 'utf8'), configSchema.partial()).value : {};
  const given = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
  const result = configSchema.safeParse({ ...stripUndefined(fromFile), ...given });
  if (!result.success) {
    const where = file ? ` (config ${file} and flags)` : ' (flags)';
    throw new Error(result.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}${where}`).join('\n'));
  }
  return result.data;
}

function stripUndefined(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

export function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) };
}
