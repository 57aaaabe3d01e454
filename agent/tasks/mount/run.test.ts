import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { Host } from '../../host/host.js';
import { AgentError } from '../../errors.js';
import { isMissingProgram, redact, runArgv } from './run.js';
import { FakeKernel } from '../../host/kernel.js';

const SECRET = 'Chap-Secret-0123456789';

function capture() {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write: (c, _e, cb) => (lines.push(c.toString()), cb()) }));
  return { ctx: { host: new Host({ root: '/', allowedTrees: [], stateDir: '/var/lib/musterd' }), log, kernel: new FakeKernel() }, lines };
}

test('run: a secret in a failing command line is redacted from the error and the log line', async () => {
  const { ctx, lines } = capture();
  const err = await runArgv(ctx, [process.execPath, '-e', 'console.error(process.argv[1]); process.exit(3)', SECRET], { secrets: [SECRET] }).catch((e: unknown) => e);
  assert.ok(err instanceof AgentError);
  assert.equal(err.code, 'EXEC_FAILED');
  assert.match(err.message, /\(secret\) ?: exit 3: \(secret\)$/);
  assert.ok(!err.message.includes(SECRET));
  assert.ok(lines.length > 0 && lines.every((l) => !l.includes(SECRET)), lines.join(''));
  assert.ok(lines.some((l) => l.includes('(secret)')));
});

test('run: a timeout is redacted too; a missing program is told apart', async () => {
  const { ctx } = capture();
  const slow = await runArgv(ctx, [process.execPath, '-e', 'setTimeout(() => {}, 5000)', SECRET], { secrets: [SECRET], timeoutMs: 100 }).catch((e: unknown) => e as AgentError);
  assert.equal((slow as AgentError).code, 'EXEC_TIMEOUT');
  assert.ok(!(slow as AgentError).message.includes(SECRET));
  const missing = await runArgv(ctx, ['muster-no-such-program-x']).catch((e: unknown) => e);
  assert.ok(isMissingProgram(missing));
  assert.equal((missing as AgentError).message, 'muster-no-such-program-x is not installed on this node');
  assert.ok(!isMissingProgram(slow));
});

test('run: every occurrence of every secret is redacted; an empty one is ignored', () => {
  assert.equal(redact(`a ${SECRET} b ${SECRET}`, [SECRET, '']), 'a (secret) b (secret)');
});
