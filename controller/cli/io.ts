// What every command is handed: where to print, and the options every command shares.
export interface Io {
  out(line: string): void;
}

export interface GlobalOptions {
  state: string;
  inventory: string;
}

export function stdoutIo(): Io {
  return { out: (line) => process.stdout.write(line + '\n') };
}

// Exit codes: 0 done and nothing (left) to change, 1 error or failure, 2 plan found changes
// (the same numbers as controller/errors.ts: NODE_FAILED and CHANGES_PENDING).
export const EXIT = { OK: 0, FAILED: 1, CHANGES: 2 } as const;

// Long-running commands (serve, status --watch) run until Ctrl-C or SIGTERM.
export function untilSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}
