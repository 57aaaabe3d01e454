import fs from 'node:fs/promises';
import { LineCounter, parseDocument, isNode, isSeq, visit, type Document } from 'yaml';

// Limits on every YAML input: a spec is a few hundred KiB at most; past these, the file is refused
// before it can exhaust memory (an alias bomb, a 50 MB inventory, 400k nodes).
export const YAML_LIMITS = {
  // bytes of one file, checked by stat before it is read
  maxBytes: 4 << 20,
  // alias expansions (the yaml library's own guard, here with the file named)
  maxAliasCount: 100,
  // YAML nodes (scalars, maps, sequences) in one document
  maxNodes: 500_000,
};

export interface YamlOptions {
  maxBytes?: number;
  maxAliasCount?: number;
  maxNodes?: number;
  // top-level lists and the most items each may hold, e.g. { nodes: 5000 }, checked before the schema
  maxItems?: Record<string, number>;
}

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

const tooBig = (file: string, message: string) => new SpecError([{ file, line: 1, column: 1, field: '', message }]);

// Reads a YAML file once stat has shown it is a regular file within the byte cap.
export async function readYamlFile(file: string, maxBytes = YAML_LIMITS.maxBytes): Promise<string> {
  const st = await fs.stat(file);
  if (!st.isFile()) throw tooBig(file, 'is not a regular file');
  if (st.size > maxBytes) throw tooBig(file, `is ${st.size} bytes; a spec file may hold at most ${maxBytes}`);
  return fs.readFile(file, 'utf8');
}

// Parses YAML and checks it against a schema; problems point at the line of the field.
export function loadYaml<T>(file: string, text: string, schema: Schema<T>, options: YamlOptions = {}): { value: T; locate: (path: readonly PropertyKey[]) => { line: number; column: number } } {
  const limits = { ...YAML_LIMITS, ...options };
  const bytes = Buffer.byteLength(text);
  if (bytes > limits.maxBytes) throw tooBig(file, `is ${bytes} bytes; a spec file may hold at most ${limits.maxBytes}`);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const locate = (path: readonly PropertyKey[]) => locateIn(doc, lines, path);
  if (doc.errors.length) {
    throw new SpecError(doc.errors.map((e) => {
      const pos = lines.linePos(e.pos[0]);
      return { file, line: pos.line, column: pos.col, field: '', message: e.message.split('\n')[0] };
    }));
  }
  let nodes = 0;
  visit(doc, () => (++nodes > limits.maxNodes ? visit.BREAK : undefined));
  if (nodes > limits.maxNodes) throw tooBig(file, `holds more than ${limits.maxNodes} YAML nodes`);
  for (const [field, max] of Object.entries(options.maxItems ?? {})) {
    const list = doc.getIn(field.split('.'), true);
    if (isSeq(list) && list.items.length > max) {
      throw new SpecError([{ file, ...locate(field.split('.')), field, message: `${list.items.length} items; at most ${max} are taken` }]);
    }
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: limits.maxAliasCount });
  } catch (err) {
    // The yaml library refuses alias bombs with a ReferenceError that names no file.
    throw tooBig(file, `${(err as Error).message} (more than ${limits.maxAliasCount} alias expansions)`);
  }
  const result = schema.safeParse(data ?? {});
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
