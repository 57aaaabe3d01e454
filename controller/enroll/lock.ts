import fs from 'node:fs/promises';

// One writer at a time for a state file: in this process a promise chain, across processes
// (`muster token create` while `muster serve` runs) a lock file made with O_EXCL.
export class FileLock {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string, private readonly staleMs = 30_000) {}

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(() => this.locked(fn));
    this.tail = next.catch(() => undefined);
    return next;
  }

  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      await fs.rm(this.file, { force: true });
    }
  }

  private async acquire(): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await (await fs.open(this.file, 'wx', 0o600)).close();
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      // A holder that died leaves its lock behind: past staleMs it is taken over.
      const st = await fs.stat(this.file).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > this.staleMs) await fs.rm(this.file, { force: true });
      if (Date.now() > deadline) throw new Error(`${this.file} is held by another muster process (remove it if none runs)`);
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
    }
  }
}

export async function readJson<T>(file: string, empty: T): Promise<T> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return empty;
    throw new Error(`${file}: ${(err as Error).message}`, { cause: err });
  }
}
