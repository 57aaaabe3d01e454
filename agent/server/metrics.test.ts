import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NodeStatus, ProbeState } from '../../proto/gen/muster/agent/v1/agent.js';
import { VERSION } from '../../common/version.js';
import { AgentMetrics } from './metrics.js';

const notAfterMs = Date.parse('2027-11-25T10:00:00Z');
const status = NodeStatus.fromPartial({
  node: 'n1',
  revision: 'r1',
  ready: false,
  probes: [
    { name: 'etcd', state: ProbeState.PROBE_STATE_DEGRADED },
    { name: 'kubelet', state: ProbeState.PROBE_STATE_HEALTHY },
  ],
  certificates: [{ path: '/srv/kubernetes/server.cert', subject: 'CN=n1', notAfterMs, daysLeft: 359 }],
});

test('metrics: expiry as a Unix timestamp in seconds, probe state as one series per state, build info, process metrics', async () => {
  const text = await new AgentMetrics(() => status).registry.metrics();
  assert.match(text, new RegExp(`muster_agent_certificate_expiry_timestamp_seconds\\{path="/srv/kubernetes/server.cert"\\} ${notAfterMs / 1000}\\n`));
  assert.doesNotMatch(text, /days/);
  assert.match(text, /muster_agent_probe_state\{probe="etcd",state="degraded"\} 1/);
  assert.match(text, /muster_agent_probe_state\{probe="etcd",state="healthy"\} 0/);
  assert.match(text, /muster_agent_probe_state\{probe="etcd",state="failed"\} 0/);
  assert.match(text, /muster_agent_probe_state\{probe="kubelet",state="healthy"\} 1/);
  assert.match(text, new RegExp(`muster_build_info\\{program="musterd",version="${VERSION}",nodejs="${process.version}"\\} 1`));
  assert.match(text, /muster_agent_ready 0/);
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'process_open_fds', 'nodejs_heap_size_used_bytes']) {
    assert.match(text, new RegExp(`^${name} \\d`, 'm'), name);
  }
});

test('metrics: a probe with no state yet counts as failed, not as a fourth state', async () => {
  const s = NodeStatus.fromPartial({ node: 'n1', probes: [{ name: 'etcd', state: ProbeState.PROBE_STATE_UNSPECIFIED }] });
  const text = await new AgentMetrics(() => s).registry.metrics();
  assert.match(text, /muster_agent_probe_state\{probe="etcd",state="failed"\} 1/);
  assert.equal(text.match(/muster_agent_probe_state\{/g)?.length, 3);
});
