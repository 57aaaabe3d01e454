import { isIP } from 'node:net';
import { z } from 'zod';
import { SpecError, loadYaml, readYamlFile } from '../../common/yaml-load.js';

// The most nodes one inventory may list (the CLI holds every plan in memory).
export const MAX_INVENTORY_NODES = 10_000;

export const ROLES = ['etcd', 'control-plane', 'worker', 'lb'] as const;
export const DEFAULT_AGENT_PORT = 7443;

const dnsName = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, 'must be a lower-case DNS name');

const nodeSchema = z
  .object({
    name: dnsName,
    address: z.string().refine((a) => isIP(a) !== 0, 'must be an IPv4 or IPv6 address'),
    hostname: dnsName.optional(),
    agentPort: z.number().int().min(1).max(65535).optional(),
    roles: z.array(z.enum(ROLES)).min(1, 'a node needs at least one role'),
    labels: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export const inventorySchema = z
  .object({
    cluster: dnsName.default('muster'),
    defaults: z.object({ agentPort: z.number().int().min(1).max(65535).default(DEFAULT_AGENT_PORT) }).strict().default({ agentPort: DEFAULT_AGENT_PORT }),
    nodes: z.array(nodeSchema).min(1, 'the inventory lists no nodes'),
  })
  .strict();

export interface InventoryNode {
  name: string;
  address: string;
  hostname: string;
  agentPort: number;
  roles: (typeof ROLES)[number][];
  labels: Record<string, string>;
}

export interface Inventory {
  file: string;
  cluster: string;
  nodes: InventoryNode[];
}

export async function loadInventory(file: string): Promise<Inventory> {
  const text = await readSpec(file);
  const { value, locate } = loadYaml(file, text, inventorySchema, { maxItems: { nodes: MAX_INVENTORY_NODES } });
  const problems = [];
  const seen = new Map<string, number>();
  const endpoints = new Map<string, number>();
  for (const [i, n] of value.nodes.entries()) {
    const port = n.agentPort ?? value.defaults.agentPort;
    if (seen.has(n.name)) problems.push({ file, ...locate(['nodes', i, 'name']), field: `nodes[${i}].name`, message: `${n.name} is listed twice (first as nodes[${seen.get(n.name)}])` });
    seen.set(n.name, i);
    const ep = `${n.address}:${port}`;
    if (endpoints.has(ep)) problems.push({ file, ...locate(['nodes', i, 'address']), field: `nodes[${i}].address`, message: `agent endpoint ${ep} is also nodes[${endpoints.get(ep)}]'s` });
    endpoints.set(ep, i);
  }
  if (problems.length) throw new SpecError(problems);
  return {
    file,
    cluster: value.cluster,
    nodes: value.nodes.map((n) => ({
      name: n.name,
      address: n.address,
      hostname: n.hostname ?? n.name,
      agentPort: n.agentPort ?? value.defaults.agentPort,
      roles: n.roles,
      labels: n.labels,
    })),
  };
}

// Every operator file is read through the byte cap (common/yaml-load.ts): a 50 MB file never reaches the parser.
export async function readSpec(file: string): Promise<string> {
  try {
    return await readYamlFile(file);
  } catch (err) {
    if (err instanceof SpecError) throw err;
    throw new SpecError([{ file, line: 0, column: 0, field: '', message: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message }]);
  }
}
