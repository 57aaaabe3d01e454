import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { loadYaml } from '../../common/yaml-load.js';
import { readSpec } from './inventory.js';

// The controller's config file: defaults for the CLI's flags, so they are not retyped.
// Found at --config, else $MUSTER_CONFIG, else ./muster.yaml; a flag or a MUSTER_* variable
// given on the command line wins over it. Paths are relative to the file's folder.
export const configSchema = z
  .object({
    state: z.string().min(1).optional(),
    inventory: z.string().min(1).optional(),
    cluster: z.string().min(1).optional(),
    tasks: z.string().min(1).optional(),
    concurrency: z.number().int().min(1).max(100_000).optional(),
    timeout: z.number().int().min(1).max(86_400).optional(),
    output: z.enum(['table', 'wide', 'json', 'yaml']).optional(),
    diff: z.boolean().optional(),
    // muster serve's store (--store): sqlite or etcd://host:port[,...].
    store: z.string().min(1).optional(),
    // Remote mode: muster serve's API (https://HOST:PORT) and the certificate to call it with.
    controller: z.string().regex(/^https:\/\/[^/]+\/?$/, 'give https://HOST:PORT').optional(),
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    ca: z.string().min(1).optional(),
  })
  .strict();

export type ControllerConfig = z.output<typeof configSchema> & { file: string };

const PATHS = ['state', 'inventory', 'cluster', 'tasks', 'cert', 'key', 'ca'] as const;

// Which file applies: undefined when none is named and ./muster.yaml is absent.
export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | undefined {
  if (flag) return path.resolve(cwd, flag);
  if (env.MUSTER_CONFIG) return path.resolve(cwd, env.MUSTER_CONFIG);
  const here = path.join(cwd, 'muster.yaml');
  return fs.existsSync(here) ? here : undefined;
}

export async function loadConfig(file: string): Promise<ControllerConfig> {
  const { value } = loadYaml(file, await readSpec(file), configSchema);
  const dir = path.dirname(file);
  const out: ControllerConfig = { ...value, file };
  for (const k of PATHS) if (out[k]) out[k] = path.resolve(dir, out[k]);
  return out;
}
