// Per-phase V8 CPU profiles for the benches: BENCH_PROF=<dir> writes <dir>/<name>.cpuprofile for
// each measured span, so a profile holds one phase, not module loading and set-up.
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';

const dir = process.env.BENCH_PROF;
let session: Session | undefined;

export async function profileStart(): Promise<void> {
  if (!dir) return;
  if (!session) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
  }
  await session.post('Profiler.start');
}

export async function profileStop(name: string): Promise<void> {
  if (!dir || !session) return;
  const { profile } = await session.post('Profiler.stop');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name.replace(/[^a-z0-9-]+/gi, '-')}.cpuprofile`), JSON.stringify(profile));
}
