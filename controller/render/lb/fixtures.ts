import type { LbInput } from './types.js';

/** A 3-apiserver, 2-lb-node cluster on documentation addresses; a fresh copy per call so tests can mutate it. */
export function exampleLbInput(overrides: Partial<LbInput> = {}): LbInput {
  return {
    clusterName: 'prod',
    vip: '192.0.2.100',
    apiPort: 6443,
    kind: 'haproxy',
    backends: [
      { name: 'cp-1', address: '192.0.2.11', port: 6443 },
      { name: 'cp-2', address: '192.0.2.12', port: 6443 },
      { name: 'cp-3', address: '192.0.2.13', port: 6443 },
    ],
    lbNodes: [
      { name: 'lb-1', address: '192.0.2.21', interface: 'eth0' },
      { name: 'lb-2', address: '192.0.2.22', interface: 'eth0' },
    ],
    self: 'lb-1',
    virtualRouterId: 51,
    authPass: 'k8s-vip',
    ...overrides,
  };
}
