import type { FileSpec } from '../../proto/gen/muster/agent/v1/tasks.js';
import { checkProblems, filesTask } from './managed-file.js';
import type { Problem } from './task.js';

export const fileTask = filesTask<FileSpec>('file', {
  validate(spec) {
    const problems: Problem[] = [];
    if (!spec.path) problems.push({ code: 'INVALID_SPEC', message: 'file: path is required' });
    if (spec.mode > 0o7777) problems.push({ code: 'INVALID_SPEC', message: `file ${spec.path}: mode ${spec.mode.toString(8)} is not a permission mode` });
    problems.push(...checkProblems(`file ${spec.path}`, spec.check?.command ?? []));
    return problems;
  },
  files: (spec) => [
    {
      path: spec.path,
      content: Buffer.from(spec.content),
      mode: spec.mode || (spec.secret ? 0o600 : 0o644),
      owner: spec.owner || undefined,
      group: spec.group || undefined,
      secret: spec.secret,
      check: spec.check?.command,
    },
  ],
});
