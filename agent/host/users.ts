import { readFileSync } from 'node:fs';
import { AgentError } from '../errors.js';

// Owner and group names resolve through the real /etc/passwd and /etc/group: a root-prefixed
// test host still runs as the machine's users.
let cache: { users: Map<string, number>; groups: Map<string, number> } | undefined;

function load() {
  if (cache) return cache;
  const parse = (file: string) => {
    const map = new Map<string, number>();
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return map;
    }
    for (const line of text.split('\n')) {
      const [name, , id] = line.split(':');
      if (name && id && /^\d+$/.test(id)) map.set(name, Number(id));
    }
    return map;
  };
  cache = { users: parse('/etc/passwd'), groups: parse('/etc/group') };
  return cache;
}

export function resolveUser(name: string): number {
  return resolveId(name, load().users, 'owner');
}

export function resolveGroup(name: string): number {
  return resolveId(name, load().groups, 'group');
}

function resolveId(name: string, map: Map<string, number>, what: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  const id = map.get(name);
  if (id === undefined) throw new AgentError('UNKNOWN_OWNER', `${what} ${JSON.stringify(name)} does not exist on this host`);
  return id;
}
