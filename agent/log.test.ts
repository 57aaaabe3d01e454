import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { agentLogger, stdoutIsJournal } from './log.js';

// A real file stands in for journald's stream socket: JOURNAL_STREAM names its device:inode,
// as systemd names the socket's. test/system/journald.test.ts runs a real journald.
function tempFd(t: { after(fn: () => void): void }): { fd: number; file: string; stream: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muster-log-'));
  const file = path.join(dir, 'out');
  const fd = fs.openSync(file, 'w');
  t.after(() => {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const st = fs.fstatSync(fd);
  return { fd, file, stream: `${st.dev}:${st.ino}` };
}

function logEveryLevel(fd: number, env: NodeJS.ProcessEnv): void {
  const log = agentLogger('trace', fd, env).child({ node: 'n1' });
  log.fatal('f');
  log.error({ err: 'boom' }, 'e');
  log.warn('w');
  log.info('i');
  log.debug('d');
  log.trace('t');
}

test('log: each line behind its syslog priority when stdout is the journal, and still JSON', (t) => {
  const o = tempFd(t);
  logEveryLevel(o.fd, { JOURNAL_STREAM: o.stream });
  const lines = fs.readFileSync(o.file, 'utf8').trimEnd().split('\n');
  assert.deepEqual(lines.map((l) => /^<(\d)>/.exec(l)?.[1]), ['2', '3', '4', '6', '7', '7']);
  const parsed = lines.map((l) => JSON.parse(l.replace(/^<\d>/, '')));
  assert.deepEqual(parsed.map((p) => p.msg), ['f', 'e', 'w', 'i', 'd', 't']);
  assert.equal(parsed[1].err, 'boom');
  assert.equal(parsed[0].node, 'n1', 'child loggers keep the prefix and their bindings');
  assert.equal(parsed[0].svc, 'musterd');
});

test('log: plain JSON lines when JOURNAL_STREAM is unset or names another stream', (t) => {
  for (const env of [{}, { JOURNAL_STREAM: '8:1234' }, { JOURNAL_STREAM: 'garbage' }]) {
    const o = tempFd(t);
    logEveryLevel(o.fd, env);
    const lines = fs.readFileSync(o.file, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 6);
    for (const l of lines) assert.equal(l[0], '{', `${JSON.stringify(env)}: ${l}`);
  }
});

test('log: stdoutIsJournal matches device and inode exactly', (t) => {
  const o = tempFd(t);
  assert.equal(stdoutIsJournal(o.fd, { JOURNAL_STREAM: o.stream }), true);
  assert.equal(stdoutIsJournal(o.fd, { JOURNAL_STREAM: `${o.stream}0` }), false);
  assert.equal(stdoutIsJournal(o.fd, {}), false);
  assert.equal(stdoutIsJournal(9999, { JOURNAL_STREAM: o.stream }), false, 'a closed fd is not the journal');
});
