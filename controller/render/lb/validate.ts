import { isIPv6 } from 'node:net';
import {
  isHostname,
  isSafeName,
  isSafePath,
  isStrictIPv4,
  lbNodePriorities,
  resolvePaths,
  scriptUser,
  statsPort,
} from './common.js';
import { LbInputError, type LbInput, type LbRenderOptions } from './types.js';

const isPort = (p: unknown): p is number => Number.isInteger(p) && (p as number) >= 1 && (p as number) <= 65535;

/** keepalived reads '#'/'!' as comments, '{'/'}' as blocks and '$' as a variable, so allow only inert punctuation. */
const AUTH_PASS = /^[A-Za-z0-9%&()*+,./:;<=>?@^_~-]{1,8}$/;

/** Linux IFNAMSIZ is 16 including the NUL; '/' and ':' are not allowed or mean an alias. */
const INTERFACE = /^[A-Za-z0-9_.-]{1,15}$/;

/** Why the given VIP cannot float between nodes, or undefined when it can. */
function vipProblem(vip: unknown): string | undefined {
  if (!isStrictIPv4(vip)) return `vip "${String(vip)}" is not an IPv4 address (dotted quad, no leading zeros)`;
  const a = Number(vip.split('.')[0]);
  if (a === 0 || a === 127) return `vip ${vip} is not usable on a network (0.0.0.0/8 and 127.0.0.0/8 are host-local)`;
  if (a >= 224) return `vip ${vip} is a multicast, reserved or broadcast address`;
  return undefined;
}

/**
 * Problems with the input, in plain words; empty when the configs can be rendered.
 * Defensive about shape, since the input may come from a hand-written inventory file.
 */
export function validateLbInput(input: LbInput, options?: LbRenderOptions): string[] {
  const problems: string[] = [];
  const add = (p: string): void => void problems.push(p);

  if (!isSafeName(input.clusterName)) {
    add(`clusterName "${String(input.clusterName)}" must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  const vipIssue = vipProblem(input.vip);
  if (vipIssue) add(vipIssue);
  if (!isPort(input.apiPort)) add(`apiPort ${String(input.apiPort)} must be a whole number from 1 to 65535`);
  if (input.kind !== 'haproxy' && input.kind !== 'nginx') add(`kind "${String(input.kind)}" must be "haproxy" or "nginx"`);
  if (!Number.isInteger(input.virtualRouterId) || input.virtualRouterId < 1 || input.virtualRouterId > 255) {
    add(`virtualRouterId ${String(input.virtualRouterId)} must be a whole number from 1 to 255`);
  }
  if (input.authPass !== undefined) {
    if (typeof input.authPass !== 'string' || input.authPass.length === 0) {
      add('authPass is empty; leave it out to disable VRRP authentication');
    } else if (input.authPass.length > 8) {
      add(`authPass is ${input.authPass.length} characters; VRRP PASS authentication uses at most 8 (keepalived would silently cut it)`);
    } else if (!AUTH_PASS.test(input.authPass)) {
      add('authPass may only use letters, digits and % & ( ) * + , . / : ; < = > ? @ ^ _ ~ - (keepalived misreads other characters)');
    }
  }
  if (input.maxConnections !== undefined) {
    if (!Number.isInteger(input.maxConnections) || input.maxConnections < 1 || input.maxConnections > 1_000_000) {
      add(`maxConnections ${String(input.maxConnections)} must be a whole number from 1 to 1000000`);
    }
  }

  // Backends: every kube-apiserver must be reachable by a unique, well-formed address.
  const backends = Array.isArray(input.backends) ? input.backends : [];
  if (!Array.isArray(input.backends)) add('backends must be a list');
  else if (backends.length === 0) add('no backends: the load balancer needs at least one kube-apiserver');
  const backendNames = new Set<string>();
  const backendEndpoints = new Set<string>();
  backends.forEach((b, i) => {
    const label = isSafeName(b?.name) ? `backend ${b.name}` : `backend #${i + 1}`;
    if (!isSafeName(b?.name)) add(`${label}: name "${String(b?.name)}" must be 1-63 letters, digits, '.', '_' or '-'`);
    else if (backendNames.has(b.name)) add(`backend name ${b.name} is used twice`);
    else backendNames.add(b.name);
    const addr = b?.address;
    if (typeof addr !== 'string' || !(isStrictIPv4(addr) || isIPv6(addr) || isHostname(addr))) {
      add(`${label}: address "${String(addr)}" is neither an IP address nor a host name`);
    }
    if (!isPort(b?.port)) add(`${label}: port ${String(b?.port)} must be a whole number from 1 to 65535`);
    const endpoint = `${String(addr)}:${String(b?.port)}`;
    if (backendEndpoints.has(endpoint)) add(`${label}: ${endpoint} is listed more than once`);
    backendEndpoints.add(endpoint);
    if (addr === input.vip) add(`${label}: address ${addr} is the VIP; the load balancer would forward to itself`);
  });

  // keepalived peers.
  const lbNodes = Array.isArray(input.lbNodes) ? input.lbNodes : [];
  if (!Array.isArray(input.lbNodes)) add('lbNodes must be a list');
  else if (lbNodes.length === 0) add('no lbNodes: keepalived needs at least one node to hold the VIP');
  const nodeNames = new Set<string>();
  const nodeAddresses = new Set<string>();
  lbNodes.forEach((n, i) => {
    const label = isSafeName(n?.name) ? `lb node ${n.name}` : `lb node #${i + 1}`;
    if (!isSafeName(n?.name)) add(`${label}: name "${String(n?.name)}" must be 1-63 letters, digits, '.', '_' or '-'`);
    else if (nodeNames.has(n.name)) add(`lb node name ${n.name} is used twice`);
    else nodeNames.add(n.name);
    if (!isStrictIPv4(n?.address)) {
      add(`${label}: address "${String(n?.address)}" must be an IPv4 address (VRRPv2 unicast peers share the VIP's family)`);
    } else {
      if (nodeAddresses.has(n.address)) add(`${label}: address ${n.address} is used by another lb node`);
      nodeAddresses.add(n.address);
      if (n.address === input.vip) {
        add(`${label}: address ${n.address} is the VIP; the VIP must be an unused address, not a node's own`);
      }
    }
    if (typeof n?.interface !== 'string' || !INTERFACE.test(n.interface)) {
      add(`${label}: interface "${String(n?.interface)}" is not a valid Linux interface name`);
    } else if (n.interface === 'lo') {
      add(`${label}: interface lo cannot carry VRRP; use the interface on the VIP's subnet`);
    }
    if (n?.priority !== undefined && (!Number.isInteger(n.priority) || n.priority < 1 || n.priority > 254)) {
      add(`${label}: priority ${String(n.priority)} must be a whole number from 1 to 254 (255 is reserved for the address owner)`);
    }
    // A co-located apiserver already listens on its port on all addresses, so the LB cannot share it.
    if (isPort(input.apiPort) && backends.some((b) => b?.address === n?.address && b?.port === input.apiPort)) {
      add(`${label}: it also runs a kube-apiserver on port ${input.apiPort}; give the load balancer another apiPort, e.g. 8443`);
    }
  });
  if (lbNodes.length > 0 && lbNodes.every((n) => isSafeName(n?.name))) {
    const priorities = lbNodePriorities({ lbNodes });
    const seen = new Map<number, string>();
    priorities.forEach((p, i) => {
      const name = lbNodes[i]!.name;
      if (lbNodes[i]!.priority === undefined && (p < 1 || p > 254)) {
        add(`lb node ${name}: derived priority ${p} is out of range; too many lb nodes to derive priorities, set them explicitly`);
      }
      const other = seen.get(p);
      if (other !== undefined) add(`lb nodes ${other} and ${name} have the same priority ${p}; the VRRP election would tie-break on address`);
      else seen.set(p, name);
    });
  }
  if (typeof input.self !== 'string' || !lbNodes.some((n) => n?.name === input.self)) {
    add(`self "${String(input.self)}" is not one of the lbNodes`);
  }

  // Render options.
  const paths = resolvePaths(options);
  for (const [key, value] of Object.entries(paths)) {
    if (!isSafePath(value)) add(`path ${key} "${String(value)}" must be absolute, without spaces, quotes or '..'`);
  }
  const stats = statsPort(options);
  if (!isPort(stats)) add(`haproxyStatsPort ${String(stats)} must be a whole number from 1 to 65535`);
  else if (stats === input.apiPort) add(`haproxyStatsPort ${stats} is the same as apiPort`);

  const user = scriptUser(options);
  if (typeof user !== 'string' || !/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) {
    add(`keepalivedScriptUser "${String(user)}" is not a valid Unix user name`);
  }

  return problems;
}

/** Throws LbInputError unless the input renders into configs the real programs accept. */
export function assertValidLbInput(input: LbInput, options?: LbRenderOptions): void {
  const problems = validateLbInput(input, options);
  if (problems.length > 0) throw new LbInputError(problems);
}
