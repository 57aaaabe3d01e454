import { AgentError } from '../../errors.js';

// A block of lines muster owns inside a shared file (/etc/fstab, /etc/ceph/rbdmap); every
// byte outside the markers stays as the operator wrote it.
export const BEGIN_MARK = '# BEGIN muster managed';
export const END_MARK = '# END muster managed';

// keyOf names the entry a line is for (the mount point of an fstab line); undefined for comments.
export type KeyOf = (line: string) => string | undefined;

interface Located {
  lines: string[];
  begin: number;
  end: number;
}

function locate(text: string, file: string): Located | undefined {
  const lines = text.split('\n');
  const begins = lines.flatMap((l, i) => (l.trimEnd() === BEGIN_MARK ? [i] : []));
  const ends = lines.flatMap((l, i) => (l.trimEnd() === END_MARK ? [i] : []));
  if (begins.length === 0 && ends.length === 0) return undefined;
  if (begins.length !== 1 || ends.length !== 1 || ends[0] < begins[0]) {
    throw new AgentError('IO_ERROR', `${file}: the "${BEGIN_MARK}" / "${END_MARK}" markers are not one well-formed pair; fix the file by hand`);
  }
  return { lines, begin: begins[0], end: ends[0] };
}

// The managed line for a key, if any.
export function managedLine(text: string, key: string, keyOf: KeyOf, file: string): string | undefined {
  const at = locate(text, file);
  if (!at) return undefined;
  return at.lines.slice(at.begin + 1, at.end).find((l) => keyOf(l) === key);
}

// Lines outside the block that are for the same key: an operator's own entry that would clash.
export function unmanagedLines(text: string, key: string, keyOf: KeyOf, file: string): number[] {
  const at = locate(text, file);
  return text.split('\n').flatMap((l, i) => (at && i >= at.begin && i <= at.end) || keyOf(l) !== key ? [] : [i + 1]);
}

// Sets (line) or removes (undefined) the entry for key. The block is appended when missing and
// dropped when it empties, so adding then removing gives back the original bytes.
export function setManagedLine(text: string, key: string, line: string | undefined, keyOf: KeyOf, file: string): string {
  const at = locate(text, file);
  if (!at) {
    if (line === undefined) return text;
    const head = text === '' || text.endsWith('\n') ? text : text + '\n';
    return `${head}${BEGIN_MARK}\n${line}\n${END_MARK}\n`;
  }
  const inner = at.lines.slice(at.begin + 1, at.end);
  const i = inner.findIndex((l) => keyOf(l) === key);
  if (line === undefined) {
    if (i >= 0) inner.splice(i, 1);
  } else if (i >= 0) {
    inner[i] = line;
  } else {
    inner.push(line);
  }
  const block = inner.some((l) => l.trim() !== '') ? [BEGIN_MARK, ...inner, END_MARK] : [];
  return [...at.lines.slice(0, at.begin), ...block, ...at.lines.slice(at.end + 1)].join('\n');
}
