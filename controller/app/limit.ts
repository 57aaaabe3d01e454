import { ControllerError } from '../errors.js';
import type { InventoryNode } from '../inputs/inventory.js';

// --limit: which nodes a command touches.
//   LIMIT := TERM ("," TERM)*      a node is selected when any term matches (union)
//   TERM  := COND ("&" COND)*      every condition of a term must hold (intersection)
//   COND  := ["!"] (NAME | KEY "=" VALUE)
// NAME is a node name, "*" wildcards allowed (w*); role=R (or roles=R) matches a node's roles,
// name=N its name, any other KEY=VALUE its labels. "!" negates. Examples: m1,m2  role=worker
// rack=a&role=worker  role=worker&!rack=b  w*&!w3
interface Cond {
  negate: boolean;
  key?: string;
  value: string;
  text: string;
}

const glob = (pattern: string) => new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);

function parseCond(raw: string, limit: string): Cond {
  const text = raw.trim();
  const negate = text.startsWith('!');
  const body = negate ? text.slice(1).trim() : text;
  const eq = body.indexOf('=');
  const key = eq < 0 ? undefined : body.slice(0, eq).trim();
  const value = eq < 0 ? body : body.slice(eq + 1).trim();
  if (!value || key === '' || !/^[A-Za-z0-9*._\-/]+$/.test(value) || (key && !/^[A-Za-z0-9._\-/]+$/.test(key))) {
    throw new ControllerError('LIMIT_INVALID', `--limit ${JSON.stringify(limit)}: ${JSON.stringify(text)} is not a node name or key=value (e.g. m1, role=worker, rack=a, role=worker&!rack=b)`);
  }
  return { negate, key, value, text };
}

function holds(c: Cond, n: InventoryNode): boolean {
  let yes: boolean;
  if (!c.key || c.key === 'name') yes = glob(c.value).test(n.name);
  else if (c.key === 'role' || c.key === 'roles') yes = (n.roles as string[]).includes(c.value);
  else yes = n.labels[c.key] === c.value;
  return yes !== c.negate;
}

export function parseLimit(limit: string): Cond[][] {
  const terms = limit.split(',').map((t) => t.trim());
  if (!limit.trim() || terms.some((t) => !t)) throw new ControllerError('LIMIT_INVALID', `--limit ${JSON.stringify(limit)} has an empty term`);
  return terms.map((t) => t.split('&').map((c) => parseCond(c, limit)));
}

// The nodes a limit selects, in inventory order. Every term must match at least one node: a typo
// is an error that says what the inventory has, never a silent no-op.
export function selectNodes(nodes: InventoryNode[], limit: string | undefined): InventoryNode[] {
  if (limit === undefined) return nodes;
  const terms = parseLimit(limit);
  for (const term of terms) {
    if (nodes.some((n) => term.every((c) => holds(c, n)))) continue;
    const text = term.map((c) => c.text).join('&');
    const keys = [...new Set(nodes.flatMap((n) => Object.keys(n.labels)))].sort();
    const roles = [...new Set(nodes.flatMap((n) => n.roles))].sort();
    throw new ControllerError('LIMIT_INVALID', `--limit ${JSON.stringify(limit)}: ${JSON.stringify(text)} matches no node in the inventory (nodes: ${nodes.slice(0, 8).map((n) => n.name).join(', ')}${nodes.length > 8 ? ', …' : ''}; roles: ${roles.join(', ')}; label keys: ${keys.join(', ') || 'none'})`);
  }
  return nodes.filter((n) => terms.some((term) => term.every((c) => holds(c, n))));
}
