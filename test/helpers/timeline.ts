import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { ApplyMode, TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import type { DeepPartial, Task } from '../../proto/gen/muster/agent/v1/tasks.js';
import { snapshot, tempHost } from './host.js';

export interface TimelineCase {
  name: string;
  task: DeepPartial<Task>;
  // the host as it is before muster comes (kernel files under the temp root, a unit file)
  setup?(real: (hostPath: string) => string): Promise<void>;
  // an outside edit of the host, done to real paths (drift)
  drift(real: (hostPath: string) => string): Promise<void>;
}

// The four-step timeline every task kind passes: changed, ok, outside edit → changed,
// check mode on a drifted host → would-change with nothing touched.
export function timeline(c: TimelineCase): void {
  test(`${c.name}: timeline`, async (t) => {
    const h = await tempHost();
    t.after(h.cleanup);
    await c.setup?.(h.real);
    const status = async (mode = ApplyMode.APPLY_MODE_APPLY) => {
      const { results } = await h.run([c.task], mode);
      assert.equal(results.length, 1);
      if (results[0].status === TaskStatus.TASK_STATUS_FAILED) assert.fail(`${results[0].errorCode}: ${results[0].errorMessage}`);
      return results[0];
    };

    const first = await status();
    assert.equal(first.status, TaskStatus.TASK_STATUS_CHANGED, 'first apply changes the host');
    assert.ok(first.diffs.length > 0, 'a change comes with a diff');

    assert.equal((await status()).status, TaskStatus.TASK_STATUS_OK, 'second apply changes nothing');

    await c.drift(h.real);
    assert.equal((await status()).status, TaskStatus.TASK_STATUS_CHANGED, 'apply after an outside edit puts it back');
    assert.equal((await status()).status, TaskStatus.TASK_STATUS_OK, 'and is converged again');

    await c.drift(h.real);
    const before = await snapshot(h.root);
    const check = await status(ApplyMode.APPLY_MODE_CHECK);
    assert.equal(check.status, TaskStatus.TASK_STATUS_WOULD_CHANGE, 'check mode reports the drift');
    assert.deepEqual(await snapshot(h.root), before, 'check mode touched nothing');
  });
}

export const appendTo = (hostPath: string, text = '# edited by hand\n') => async (real: (p: string) => string) => {
  await fs.appendFile(real(hostPath), text);
};
