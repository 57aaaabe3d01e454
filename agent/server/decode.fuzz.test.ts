// Property tests of what an Apply request goes through before any task runs: the server's
// deserializer on random bytes, and random valid-ish plans through the engine in CHECK mode.
// A request is decoded or refused; a plan is checked or refused with a code; the host is never
// touched in CHECK mode, and nothing ends as an INTERNAL error.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { test } from 'node:test';
import { AgentServiceService, ApplyMode, ApplyRequest, Plan, TaskStatus } from '../../proto/gen/muster/agent/v1/agent.js';
import { Task } from '../../proto/gen/muster/agent/v1/tasks.js';
import { snapshot, tempHost } from '../../test/helpers/host.js';
import { AgentError, agentErrors } from '../errors.js';

test('fuzz: random bytes through the Apply deserializer decode or throw, never hang', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      try {
        const req = AgentServiceService.apply.requestDeserialize(Buffer.from(bytes));
        assert.equal(typeof req, 'object');
      } catch (err) {
        assert.ok(err instanceof Error);
      }
    }),
    { numRuns: 3000 },
  );
});

const paths = fc.constantFrom('/etc/kubernetes/a.conf', '/etc/kubernetes/../shadow', '/etc/passwd', 'relative', '', '/etc/kubernetes/manifests/x.yaml', '/srv/kubernetes/a\0b', '/mnt/x');
const taskArb = fc.oneof(
  fc.record({ id: fc.constantFrom('a', 'b', '', 'a'), file: fc.record({ path: paths, content: fc.uint8Array({ maxLength: 16 }), mode: fc.constantFrom(0, 0o644, 0o7777, 0o100000) }) }),
  fc.record({ id: fc.constantFrom('p', 'q'), staticPod: fc.record({ name: fc.constantFrom('etcd', '', '../x', 'kube apiserver'), manifest: fc.constantFrom('', 'apiVersion: v1\nkind: Pod\n', 'not: [yaml', 'kind: Pod\nmetadata: {name: x}\n') }) }),
  fc.record({ id: fc.constantFrom('m'), mount: fc.record({ target: paths, block: fc.record({ device: fc.constantFrom('/dev/loop0', '', 'x') }) }) }),
  fc.record({ id: fc.constantFrom('c'), certificate: fc.record({ certPath: paths, keyPath: paths, certPem: fc.constantFrom('', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n') }) }),
  fc.record({ id: fc.constantFrom('e') }),
);

test('fuzz: random plans in CHECK mode are checked or refused with a code, and touch nothing', async (t) => {
  const h = await tempHost();
  t.after(() => h.cleanup());
  const before = await snapshot(h.root);
  await fc.assert(
    fc.asyncProperty(fc.array(taskArb, { maxLength: 6 }), fc.boolean(), async (tasks, roundTrip) => {
      let plan = Plan.fromPartial({ node: 'test', revision: 'r', tasks: tasks.map((x) => Task.fromPartial(x as Parameters<typeof Task.fromPartial>[0])) });
      // Half the time through the wire encoding, as the server receives it.
      if (roundTrip) plan = ApplyRequest.decode(ApplyRequest.encode({ mode: ApplyMode.APPLY_MODE_CHECK, plan }).finish()).plan!;
      const results: { status: TaskStatus; errorCode: string }[] = [];
      try {
        await h.engine.run(plan, { mode: ApplyMode.APPLY_MODE_CHECK, onResult: (r) => results.push(r) });
      } catch (err) {
        assert.ok(err instanceof AgentError && err.code !== 'INTERNAL', String(err));
        return;
      }
      assert.equal(results.length, plan.tasks.length);
      for (const r of results) {
        if (r.status === TaskStatus.TASK_STATUS_FAILED) assert.ok(r.errorCode in agentErrors && r.errorCode !== 'INTERNAL', `${r.errorCode}`);
      }
    }),
    { numRuns: 300 },
  );
  assert.deepEqual(await snapshot(h.root), before, 'CHECK mode wrote nothing');
});
