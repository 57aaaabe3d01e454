import fs from 'node:fs';
import { pino, type DestinationStream, type Logger } from 'pino';

// pino level → the syslog priority journald reads from a `<N>` line prefix (sd-daemon(3)):
// fatal crit, error err, warn warning, info info, debug and trace debug.
const PRIORITY: Record<number, string> = { 60: '<2>', 50: '<3>', 40: '<4>', 30: '<6>', 20: '<7>', 10: '<7>' };

// systemd sets JOURNAL_STREAM to the device:inode of the stream it connected to stdout; a
// stdout redirected elsewhere by the operator keeps the variable but no longer matches it.
export function stdoutIsJournal(fd = 1, env: NodeJS.ProcessEnv = process.env): boolean {
  const want = env.JOURNAL_STREAM;
  if (!want) return false;
  try {
    const st = fs.fstatSync(fd);
    return want === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

// A destination that writes each JSON line behind its level's priority prefix. pino hands
// the level of the line in lastLevel to a stream that asks for metadata.
export function journalDestination(out: DestinationStream): DestinationStream {
  return {
    [Symbol.for('pino.metadata')]: true,
    lastLevel: 30,
    write(line: string) {
      out.write((PRIORITY[this.lastLevel] ?? '<6>') + line);
    },
  } as DestinationStream & { lastLevel: number };
}

// The agent's logger: JSON lines on fd (stdout), with priority prefixes when fd is journald's.
export function agentLogger(level: string, fd = 1, env: NodeJS.ProcessEnv = process.env): Logger {
  const out = pino.destination({ fd, sync: true });
  return pino({ level, base: { svc: 'musterd' } }, stdoutIsJournal(fd, env) ? journalDestination(out) : out);
}
