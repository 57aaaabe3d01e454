import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { test } from 'node:test';
import type { InventoryNode } from '../inputs/inventory.js';
import { describeGrpcError, targetOf } from './client.js';

// The sentences for failures a loopback test cannot provoke from a real agent (the agent never
// answers UNAUTHENTICATED; no route to a host needs a real network): the same function the
// integration tests drive with real sockets (test/integration/grpc-errors.test.ts).
const node: InventoryNode = { name: 'w7', address: 'fd00::7', hostname: 'w7', agentPort: 7443, roles: ['worker'], labels: {} };
const say = (code: status, details: string, timeoutMs?: number) => describeGrpcError(node, { code, details }, timeoutMs);

test('grpc sentences: each names the node and its address, keeps the cause, drops the transport noise', () => {
  assert.equal(
    say(status.UNAVAILABLE, 'No connection established. Last error: Error: connect EHOSTUNREACH fd00::7:7443. Resolution note: '),
    'w7 ([fd00::7]:7443) cannot be reached over the network (EHOSTUNREACH): check the node\'s address in the inventory, that the machine is up, and that no firewall drops port 7443',
  );
  assert.match(say(status.UNAVAILABLE, 'read ECONNRESET'), /^w7 \(\[fd00::7\]:7443\) closed the connection \(read ECONNRESET\): check the agent's log/);
  assert.match(say(status.UNAUTHENTICATED, 'certificate rejected'), /^w7 \(\[fd00::7\]:7443\) did not accept the controller's certificate \(certificate rejected\): the agent trusts another fleet CA/);
  assert.equal(say(status.DEADLINE_EXCEEDED, 'Deadline exceeded after 300.002s', 300_000), 'w7 ([fd00::7]:7443) did not answer within 300 s: the agent may be busy or the network slow; check the agent\'s log (journalctl -u musterd) or raise --timeout');
  assert.equal(say(status.INTERNAL, 'boom. Resolution note: x'), 'w7 ([fd00::7]:7443) answered INTERNAL: boom');
  for (const code of [status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.PERMISSION_DENIED, status.UNAUTHENTICATED, status.CANCELLED, status.UNKNOWN]) {
    const s = say(code, 'No connection established. Last error: something. Resolution note: dns');
    assert.doesNotMatch(s, /Resolution note|No connection established|\n/, s);
  }
});

test('grpc target: IP addresses by the ipv4:/ipv6: resolver, a host name by DNS', () => {
  assert.equal(targetOf(node), 'ipv6:[fd00::7]:7443');
  assert.equal(targetOf({ ...node, address: '10.0.0.7' }), 'ipv4:10.0.0.7:7443');
  assert.equal(targetOf({ ...node, address: 'w7.example.net' }), 'w7.example.net:7443');
});
