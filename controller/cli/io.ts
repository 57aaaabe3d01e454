// What every command is handed: where to print, whether the terminal takes colour and redraws.
export interface Io {
  out(line: string): void;
  // Raw writes for the live view (no newline added); only used when tty is true.
  write(text: string): void;
  tty: boolean;
  color: boolean;
  columns: number;
}

export interface GlobalOptions {
  state: string;
  inventory: string;
  // Remote mode: muster serve's API and the certificate to call it with.
  controller?: string;
  cert?: string;
  key?: string;
  ca?: string;
}

export type OutputFormat = 'table' | 'wide' | 'json' | 'yaml';
export const OUTPUT_FORMATS: OutputFormat[] = ['table', 'wide', 'json', 'yaml'];

// Colour only on a terminal, and never when NO_COLOR is set to anything (no-color.org).
export function colorWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return !!stream.isTTY && !env.NO_COLOR && env.TERM !== 'dumb';
}

export function stdoutIo(): Io {
  return {
    out: (line) => process.stdout.write(line + '\n'),
    write: (text) => process.stdout.write(text),
    tty: !!process.stdout.isTTY && process.env.TERM !== 'dumb',
    color: colorWanted(process.stdout),
    columns: process.stdout.columns || 120,
  };
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
