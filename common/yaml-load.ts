import { LineCounter, parseDocument, isNode, type Document } from 'yaml';

export interface SpecProblem {
  file: string;
  line: number;
  column: number;
  field: string;
  message: string;
}

// A spec file that does not load: every problem, each with file, line and field.
export class SpecError extends Error {
  constructor(readonly problems: SpecProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'SpecError';
  }
}

export function formatProblem(p: SpecProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.field ? p.field + ': ' : ''}${p.message}`;
}

export function fieldName(path: readonly PropertyKey[]): string {
  return path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '');
}

// What loadYaml checks a document with: a zod schema, or anything with the same safeParse.
export interface Schema<T> {
  safeParse(data: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

// Parses YAML and checks it against a schema; problems point at the line of the field.
export function loadYaml<T>(file: string, text: string, schema: Schema<T>): { value: T; locate: (path: readonly PropertyKey[]) => { line: number; column: number } } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const locate = (path: readonly PropertyKey[]) => locateIn(doc, lines, path);
  if (doc.errors.length) {
    throw new SpecError(doc.errors.map((e) => {
      const pos = lines.linePos(e.pos[0]);
      return { file, line: pos.line, column: pos.col, field: '', message: e.message.split('\n')[0] };
    }));
  }
  const result = schema.safeParse(doc.toJS() ?? {});
  if (!result.success) {
    throw new SpecError(result.error.issues.map((issue) => {
      return { file, ...locate(issue.path), field: fieldName(issue.path), message: issue.message };
    }));
  }
  return { value: result.data, locate };
}

// The line of the deepest part of the path that exists in the document.
function locateIn(doc: Document, lines: LineCounter, path: readonly PropertyKey[]): { line: number; column: number } {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true);
    if (isNode(node) && node.range) {
      const pos = lines.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return { line: 1, column: 1 };
}
