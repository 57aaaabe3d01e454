import { stringify } from 'yaml';
import type { Io, OutputFormat } from './io.js';

// One way for every command to print what it reports: a table (wide: more columns) for people,
// JSON or YAML (ISO times, no colour) for programs.
export function emit(io: Io, format: OutputFormat, data: unknown, table: (wide: boolean) => string): void {
  if (format === 'json') io.out(JSON.stringify(data, null, 2));
  else if (format === 'yaml') io.out(stringify(data, { lineWidth: 0 }).trimEnd());
  else io.out(table(format === 'wide'));
}

export const machineReadable = (format: OutputFormat) => format === 'json' || format === 'yaml';

export { age } from '../fleet/view.js';

export function iso(ms: number | undefined): string | undefined {
  return ms ? new Date(ms).toISOString() : undefined;
}

// SGR colour codes, which take no room on screen.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
export const visibleLength = (s: string) => s.replace(ANSI, '').length;

const CODES = { green: 32, yellow: 33, red: 31, dim: 2, bold: 1 } as const;
export type Paint = (style: keyof typeof CODES, text: string) => string;
export const painter = (color: boolean): Paint => (style, text) => (color ? `\x1b[${CODES[style]}m${text}\x1b[0m` : text);

// The colour of a result word: green done, yellow changes, red failures.
export function paintResult(paint: Paint, word: string): string {
  if (word === 'ok' || word === 'converged' || word === 'yes') return paint('green', word);
  if (word === 'changed' || word === 'would-change') return paint('yellow', word);
  if (word === 'failed' || word === 'unreachable' || word === 'NO') return paint('red', word);
  return word;
}
