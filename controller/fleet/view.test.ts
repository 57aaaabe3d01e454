import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DriftPolicy, NodeStatus, ProbeState } from '../../proto/gen/muster/agent/v1/agent.js';
import type { InventoryNode } from '../inputs/inventory.js';
import { nodeState, viewJson, type NodeView } from './view.js';

const inv = { name: 'w1', address: '10.0.1.21', agentPort: 7443, roles: ['worker'], labels: { rack: 'a' }, hostname: 'w1' } as unknown as InventoryNode;
const at = Date.UTC(2026, 11, 1, 12);

describe('viewJson: what the API and the dashboard show of a node', () => {
  it('flattens status into the fields a row shows: state, generation, probes with last error and since, drift, soonest certificate', () => {
    const status = NodeStatus.fromPartial({
      node: 'w1',
      revision: 'abc',
      generation: 7,
      ready: false,
      notReadyReason: 'probe kubelet failed',
      appliedAtMs: at,
      lastResult: { converged: true },
      probes: [
        { name: 'kubelet', state: ProbeState.PROBE_STATE_FAILED, message: '', lastError: 'GET /healthz: 503', sinceMs: at - 60_000 },
        { name: 'static-pods', state: ProbeState.PROBE_STATE_HEALTHY, message: 'ok', lastError: '', sinceMs: at - 3_600_000 },
      ],
      certificates: [
        { path: '/etc/kubernetes/pki/apiserver.crt', subject: 'CN=kube-apiserver', notAfterMs: at + 300 * 86_400_000, daysLeft: 300 },
        { path: '/etc/kubernetes/pki/kubelet.crt', subject: 'CN=w1', notAfterMs: at + 12 * 86_400_000, daysLeft: 12 },
      ],
      driftPolicy: DriftPolicy.DRIFT_POLICY_ENFORCE,
      driftDetected: 2,
      driftRepaired: 2,
      lastDrift: { path: '/etc/kubernetes/app.conf', what: 'changed', repaired: true, atMs: at - 5_000 },
    });
    const j = viewJson({ node: inv, status, updatedAtMs: at });
    assert.equal(j.state, 'not-ready');
    assert.equal(j.generation, 7);
    assert.deepEqual(j.labels, { rack: 'a' });
    assert.equal(j.notReadyReason, 'probe kubelet failed');
    assert.equal(j.lastApply, 'converged');
    assert.deepEqual(j.probes[0], { name: 'kubelet', state: 'failed', message: '', lastError: 'GET /healthz: 503', since: new Date(at - 60_000).toISOString() });
    assert.equal(j.probes[1].state, 'healthy');
    assert.deepEqual(j.soonestCertificate, { path: '/etc/kubernetes/pki/kubelet.crt', subject: 'CN=w1', notAfter: new Date(at + 12 * 86_400_000).toISOString(), daysLeft: 12 });
    assert.deepEqual(j.drift, { policy: 'enforce', detected: 2, repaired: 2, last: { path: '/etc/kubernetes/app.conf', what: 'changed', repaired: true, error: '', at: new Date(at - 5_000).toISOString() } });
    // The fields that were there before stay as they were.
    assert.equal(j.node, 'w1');
    assert.equal(j.reachable, true);
    assert.equal(j.appliedAt, new Date(at).toISOString());
    assert.equal((j.status as { revision: string }).revision, 'abc');
  });

  it('an unreachable node: its error and since when, no status fields', () => {
    const v: NodeView = { node: inv, error: 'connect ECONNREFUSED', errorSinceMs: at, updatedAtMs: at };
    const j = viewJson(v);
    assert.equal(nodeState(v), 'unreachable');
    assert.equal(j.state, 'unreachable');
    assert.equal(j.errorSince, new Date(at).toISOString());
    assert.deepEqual(j.probes, []);
    assert.equal(j.drift, undefined);
    assert.equal(j.soonestCertificate, undefined);
    assert.equal(j.generation, undefined);
  });

  it('a ready node with no certificates and report-only drift', () => {
    const status = NodeStatus.fromPartial({ ready: true, driftPolicy: DriftPolicy.DRIFT_POLICY_REPORT, driftDetected: 1 });
    const j = viewJson({ node: inv, status, updatedAtMs: at });
    assert.equal(j.state, 'ready');
    assert.equal(j.notReadyReason, undefined);
    assert.equal(j.soonestCertificate, undefined);
    assert.equal(j.drift?.policy, 'report');
  });
});
