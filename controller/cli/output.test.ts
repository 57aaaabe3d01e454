import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TaskResult, TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { outcomeJson, renderTask } from './output.js';

const removal = (status: TaskStatus, kind: string, headers: string[]) =>
  TaskResult.fromPartial({ id: 'lb-config', kind, status, removal: true, diffs: headers.map((header) => ({ header, before: 'x', after: '(absent)' })) });

test('output: a removal reads as one, in plan and apply, and is flagged in JSON', () => {
  assert.equal(renderTask(removal(TaskStatus.TASK_STATUS_WOULD_CHANGE, 'file', ['/etc/haproxy/haproxy.cfg']), false), '  - lb-config (file) would remove /etc/haproxy/haproxy.cfg');
  assert.equal(renderTask(removal(TaskStatus.TASK_STATUS_CHANGED, 'file', ['/etc/haproxy/haproxy.cfg']), false), '  - lb-config (file) removed /etc/haproxy/haproxy.cfg');
  assert.equal(renderTask(removal(TaskStatus.TASK_STATUS_WOULD_CHANGE, 'service', ['haproxy.service (at boot)', 'haproxy.service (now)']), false), '  - lb-config (service) would stop and disable haproxy.service');
  assert.equal(renderTask(removal(TaskStatus.TASK_STATUS_CHANGED, 'package', ['package haproxy']), false), '  - lb-config (package) removed package haproxy');
  const failed = TaskResult.fromPartial({ ...removal(TaskStatus.TASK_STATUS_FAILED, 'service', []), errorCode: 'EXEC_FAILED', errorMessage: 'systemctl stop failed' });
  assert.equal(renderTask(failed, false), '  - lb-config (service) failed to stop: EXEC_FAILED: systemctl stop failed');
  assert.equal(renderTask(TaskResult.fromPartial({ id: 'lb-config', kind: 'file', status: TaskStatus.TASK_STATUS_WOULD_CHANGE }), false), '  ~ lb-config (file) would-change');
  const json = outcomeJson({ node: 'lb1', results: [removal(TaskStatus.TASK_STATUS_WOULD_CHANGE, 'file', ['/etc/haproxy/haproxy.cfg'])], summary: { wouldChange: 1 }, durationMs: 1 } as never);
  assert.equal(json.tasks[0].removal, true);
});
