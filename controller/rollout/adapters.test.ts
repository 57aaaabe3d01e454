import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApplySummary, NodeStatus, ProbeState, TaskResult, TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { healthOf, outcomeOf } from './adapters.js';

test('adapters: an Apply\'s summary or error becomes the runner\'s outcome', () => {
  assert.deepEqual(outcomeOf({ summary: ApplySummary.fromPartial({ changed: 2, ok: 3, converged: true }) }), { status: 'converged', changed: 2 });
  assert.deepEqual(outcomeOf({ summary: ApplySummary.fromPartial({ wouldChange: 1 }) }), { status: 'would-change', changed: 0 });
  const failed = outcomeOf({
    summary: ApplySummary.fromPartial({ changed: 1, failed: 1, failedTask: 'pod' }),
    results: [TaskResult.fromPartial({ id: 'pod', status: TaskStatus.TASK_STATUS_FAILED, errorCode: 'MANIFEST_INVALID', errorMessage: 'no image' })],
  });
  assert.deepEqual(failed, { status: 'failed', changed: 1, error: 'task pod: MANIFEST_INVALID: no image' });
  assert.equal(outcomeOf({ error: 'unreachable (UNAVAILABLE): connect ECONNREFUSED' }).status, 'unreachable');
  assert.equal(outcomeOf({ error: 'no answer before the deadline (DEADLINE_EXCEEDED)' }).status, 'unreachable');
  assert.equal(outcomeOf({ error: 'n1 (127.0.0.1:7443) refused the connection: check that musterd runs', grpcCode: 14 }).status, 'unreachable');
  assert.equal(outcomeOf({ error: 'n1 (127.0.0.1:7443) answered FAILED_PRECONDITION: STALE_GENERATION: plan generation 3 is older', grpcCode: 9 }).status, 'failed');
  assert.deepEqual(outcomeOf({ error: 'FAILED_PRECONDITION: STALE_GENERATION: plan generation 3 is older than generation 4' }).status, 'failed');
  assert.equal(outcomeOf({}).status, 'failed');
});

test('adapters: a NodeStatus becomes the runner\'s health view: probes, generation, etcd member, static pod hashes', () => {
  const status = NodeStatus.fromPartial({
    node: 'm1',
    revision: 'r9',
    generation: 9,
    probes: [
      { name: 'etcd', state: ProbeState.PROBE_STATE_HEALTHY, message: 'member a', details: { member_id: 'a', leader: 'b', raft_index: '1200' } },
      { name: 'kube-apiserver', state: ProbeState.PROBE_STATE_FAILED, message: 'GET /readyz: 500', lastError: 'GET /readyz: 500' },
      { name: 'static-pods', state: ProbeState.PROBE_STATE_HEALTHY, details: { 'etcd.manifest-hash': 'h2', 'etcd.running-hash': 'h1', 'kube-apiserver.manifest-hash': 'k1' } },
    ],
  });
  const h = healthOf(status);
  assert.equal(h.reachable, true);
  assert.equal(h.generation, 9);
  assert.deepEqual(h.etcd, { memberId: 'a', leaderId: 'b', raftIndex: 1200 });
  assert.equal(h.probes.etcd.healthy, true);
  assert.deepEqual([h.probes['kube-apiserver'].healthy, h.probes['kube-apiserver'].lastError], [false, 'GET /readyz: 500']);
  assert.deepEqual(h.staticPods, { etcd: { manifestHash: 'h2', runningHash: 'h1' }, 'kube-apiserver': { manifestHash: 'k1', runningHash: '' } });
  assert.equal(healthOf(NodeStatus.fromPartial({ probes: [] })).staticPods, undefined, 'not reported: the gate says so instead of assuming');
  assert.deepEqual(healthOf(undefined, 'stream closed'), { reachable: false, error: 'stream closed', generation: 0, revision: '', probes: {} });
});
