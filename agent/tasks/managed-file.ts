import type { FileState, Host } from '../host/host.js';
import { AgentError } from '../errors.js';
import { run } from '../host/exec.js';
import { resolveGroup, resolveUser } from '../host/users.js';
import type { Change, Problem, Removal, Task } from './task.js';

// A file as a task wants it on the host.
export interface DesiredFile {
  path: string;
  content: Buffer;
  mode: number;
  owner?: string;
  group?: string;
  // secret content never appears in a diff or a log line.
  secret?: boolean;
  // describe turns content into what a diff shows instead of raw bytes (certificates).
  describe?: (content: Buffer) => string;
  // check is a program that must accept the new bytes (its "{}" the temp file) before they replace the file.
  check?: readonly string[];
}

export const CHECK_PLACEHOLDER = '{}';
const CHECK_TIMEOUT_MS = 30_000;

// Builds a task kind whose whole state is a set of files: the kind says which files and how
// to validate them; observing, diffing and atomic replacing live here once.
export function filesTask<Spec>(kind: string, def: {
  validate(spec: Spec): Problem[];
  files(spec: Spec): DesiredFile[];
}): Task<Spec, (FileState | null)[]> {
  // keys, validate, observe, diff, apply and watchPaths all need the files: build them once per spec.
  const built = new WeakMap<object, DesiredFile[]>();
  const files = (spec: Spec): DesiredFile[] => {
    let f = built.get(spec as object);
    if (!f) built.set(spec as object, (f = def.files(spec)));
    return f;
  };
  return {
    kind,
    keys: (spec) => files(spec).map((f) => `file:${f.path}`),
    validate(spec) {
      const problems = def.validate(spec);
      if (problems.length) return problems;
      for (const f of files(spec)) {
        try {
          ownership(f);
        } catch (err) {
          if (err instanceof AgentError) problems.push({ code: err.code, message: err.message });
          else throw err;
        }
      }
      return problems;
    },
    observe: (spec, ctx) => Promise.all(files(spec).map((f) => ctx.host.read(f.path))),
    diff: (spec, observed) => files(spec).flatMap((f, i) => diffFile(f, observed[i])),
    async apply(spec, observed, ctx) {
      const wanted = files(spec);
      for (let i = 0; i < wanted.length; i++) await applyFile(ctx.host, wanted[i], observed[i]);
    },
    watchPaths: (spec) => files(spec).map((f) => f.path),
    removal: (spec, kept) => removeFiles(files(spec).filter((f) => !kept(`file:${f.path}`))),
  };
}

// What a file-shaped task left behind once it leaves the plan: the same files, each to be gone.
export function removeFiles(list: readonly Pick<DesiredFile, 'path' | 'secret'>[]): Removal | undefined {
  if (!list.length) return undefined;
  return { task: absentFilesTask as Task<unknown, unknown>, spec: { files: list.map(({ path, secret }) => ({ path, secret })) } };
}

interface AbsentFiles {
  files: { path: string; secret?: boolean }[];
}

const absentFilesTask: Task<AbsentFiles, (FileState | null)[]> = {
  kind: 'file',
  keys: (spec) => spec.files.map((f) => `file:${f.path}`),
  validate: () => [],
  observe: (spec, ctx) => Promise.all(spec.files.map((f) => ctx.host.read(f.path))),
  diff: (spec, observed) =>
    spec.files.flatMap((f, i) => {
      const have = observed[i];
      if (!have) return [];
      return [{ header: f.path, before: f.secret ? `(secret, ${have.content.length} bytes)` : have.content.toString('utf8'), after: '(absent)' }];
    }),
  async apply(spec, observed, ctx) {
    for (const [i, f] of spec.files.entries()) if (observed[i]) await ctx.host.remove(f.path);
  },
};

// The problems of a check command, for a kind's validate.
export function checkProblems(what: string, check: readonly string[]): Problem[] {
  if (!check.length) return [];
  if (check.some((a) => typeof a !== 'string' || a.length === 0 || a.includes('\0'))) return [{ code: 'INVALID_SPEC', message: `${what}: check has an empty argument` }];
  if (!check.slice(1).some((a) => a.includes(CHECK_PLACEHOLDER))) {
    return [{ code: 'INVALID_SPEC', message: `${what}: check ${JSON.stringify(check)} never names the new file: put ${CHECK_PLACEHOLDER} where its path goes` }];
  }
  return [];
}

// Runs the check program against the complete temp file; a rejection keeps the old file in place.
async function runCheck(want: DesiredFile, tempPath: string): Promise<void> {
  const argv = want.check!.map((a) => a.split(CHECK_PLACEHOLDER).join(tempPath));
  let result;
  try {
    result = await run(argv[0], argv.slice(1), { timeoutMs: CHECK_TIMEOUT_MS, allowFailure: true });
  } catch (err) {
    const missing = (err as AgentError).cause && ((err as AgentError).cause as NodeJS.ErrnoException).code === 'ENOENT';
    const why = missing ? `${argv[0]} is not installed on this node` : (err as Error).message;
    throw new AgentError('CONFIG_CHECK_FAILED', `${want.path}: the new content could not be checked (${why}); the old file is kept`, { cause: err });
  }
  if (result.code !== 0) {
    // The program's words about the temp file read better with the real path in them.
    const said = `${result.stderr}\n${result.stdout}`.split(tempPath).join(want.path).trim().split('\n').filter(Boolean).slice(-4).join(' | ');
    throw new AgentError('CONFIG_CHECK_FAILED', `${want.path}: ${want.check!.join(' ')} rejected the new content (exit ${result.code}): ${said}; the old file is kept`);
  }
}

export function diffFile(want: DesiredFile, have: FileState | null): Change[] {
  const { uid, gid } = ownership(want);
  const show = (content: Buffer) =>
    want.secret ? `(secret, ${content.length} bytes)` : want.describe ? want.describe(content) : content.toString('utf8');
  if (!have) return [{ header: want.path, before: '(absent)', after: show(want.content) }];
  const changes: Change[] = [];
  if (!have.content.equals(want.content)) {
    const before = want.secret ? `(secret, ${have.content.length} bytes, differs)` : showSafely(want, have.content);
    changes.push({ header: want.path, before, after: show(want.content) });
  }
  if (have.mode !== want.mode) {
    changes.push({ header: `${want.path} mode`, before: octal(have.mode), after: octal(want.mode) });
  }
  if (uid !== undefined && have.uid !== uid) {
    changes.push({ header: `${want.path} owner`, before: String(have.uid), after: `${want.owner} (${uid})` });
  }
  if (gid !== undefined && have.gid !== gid) {
    changes.push({ header: `${want.path} group`, before: String(have.gid), after: `${want.group} (${gid})` });
  }
  return changes;
}

// Whatever sits on the host may not parse; the diff still has to show something.
function showSafely(want: DesiredFile, content: Buffer): string {
  if (!want.describe) return content.toString('utf8');
  try {
    return want.describe(content);
  } catch {
    return `(unreadable, ${content.length} bytes)`;
  }
}

export async function applyFile(host: Host, want: DesiredFile, have: FileState | null): Promise<void> {
  const { uid, gid } = ownership(want);
  if (!have || !have.content.equals(want.content)) {
    const beforeRename = want.check?.length ? (tmp: string) => runCheck(want, tmp) : undefined;
    await host.writeAtomic(want.path, want.content, { mode: want.mode, uid, gid, beforeRename }, have);
    return;
  }
  const ownerWrong = (uid !== undefined && uid !== have.uid) || (gid !== undefined && gid !== have.gid);
  if (have.mode !== want.mode || ownerWrong) await host.setAttributes(want.path, { mode: want.mode, uid, gid });
}

function ownership(f: DesiredFile): { uid?: number; gid?: number } {
  return {
    uid: f.owner ? resolveUser(f.owner) : undefined,
    gid: f.group ? resolveGroup(f.group) : undefined,
  };
}

export function octal(mode: number): string {
  return '0' + (mode & 0o7777).toString(8).padStart(3, '0');
}

