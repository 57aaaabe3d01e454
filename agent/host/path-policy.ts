import path from 'node:path';
import { AgentError } from '../errors.js';

// The trees (and single files) a plan may touch on a host unless the agent's config says otherwise.
export const DEFAULT_ALLOWED_TREES = [
  '/etc/kubernetes',
  '/srv/kubernetes',
  '/etc/haproxy',
  '/etc/nginx',
  '/etc/keepalived',
  '/etc/systemd/system',
  '/var/lib/etcd',
  '/var/lib/kubelet',
  '/etc/muster/managed',
  // storage: mount points, persistence, client credentials
  '/mnt',
  '/srv/storage',
  '/etc/fstab',
  '/etc/ceph',
  // system kinds: apt sources and their keys, kernel parameters and modules at boot
  '/etc/apt/sources.list.d',
  '/etc/apt/keyrings',
  '/etc/sysctl.d',
  '/etc/modules-load.d',
  // the node runtime: containerd's config and crictl's
  '/etc/containerd',
  '/etc/crictl.yaml',
];

// Pure check of a host path against the allowed trees; runs before any I/O.
// Returns the normalized absolute path.
export function checkPath(hostPath: string, allowedTrees: readonly string[]): string {
  if (typeof hostPath !== 'string' || hostPath.length === 0) {
    throw new AgentError('PATH_NOT_ALLOWED', 'path is empty');
  }
  if (hostPath.includes('\0')) throw new AgentError('PATH_NOT_ALLOWED', `path ${JSON.stringify(hostPath)} holds a NUL byte`);
  if (!path.posix.isAbsolute(hostPath)) throw new AgentError('PATH_NOT_ALLOWED', `path ${hostPath} is not absolute`);
  if (hostPath.split('/').includes('..')) throw new AgentError('PATH_NOT_ALLOWED', `path ${hostPath} contains ".."`);
  const normal = path.posix.normalize(hostPath).replace(/\/+$/, '') || '/';
  if (!allowedTrees.some((tree) => isWithin(normal, tree))) {
    throw new AgentError('PATH_NOT_ALLOWED', `path ${normal} is outside the allowed trees (${allowedTrees.join(', ')})`);
  }
  return normal;
}

// True when child is parent or lies below it, comparing whole path segments.
export function isWithin(child: string, parent: string): boolean {
  const p = parent.endsWith('/') && parent !== '/' ? parent.slice(0, -1) : parent;
  return child === p || child.startsWith(p === '/' ? '/' : p + '/');
}
