import type { AptSourceSpec } from '../../proto/gen/muster/agent/v1/system.js';
import { filesTask } from './managed-file.js';
import type { Problem } from './task.js';

const NAME = /^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,63}$/;
const ARMORED = '-----BEGIN PGP PUBLIC KEY BLOCK-----';
const MAX_KEY = 64 * 1024;
// One deb822 field value: no newline (a line break would start another field), no comment mark.
const FIELD = /^[^\s#]+$/;

const keyPath = (spec: AptSourceSpec) =>
  `/etc/apt/keyrings/${spec.name}.${Buffer.from(spec.key).subarray(0, ARMORED.length).toString('latin1') === ARMORED ? 'asc' : 'gpg'}`;
export const sourcesPath = (spec: AptSourceSpec) => `/etc/apt/sources.list.d/${spec.name}.sources`;

// deb822 .sources (sources.list(5)): Signed-By ties the repository to its own key, never to every trusted key.
export function renderSources(spec: AptSourceSpec): string {
  const lines = [
    '# Managed by muster.',
    'Types: deb',
    `URIs: ${spec.uris.join(' ')}`,
    `Suites: ${(spec.suites.length ? spec.suites : ['/']).join(' ')}`,
    ...(spec.components.length ? [`Components: ${spec.components.join(' ')}`] : []),
    ...(spec.architectures.length ? [`Architectures: ${spec.architectures.join(' ')}`] : []),
    `Signed-By: ${keyPath(spec)}`,
  ];
  return lines.join('\n') + '\n';
}

export const aptSourceTask = filesTask<AptSourceSpec>('apt-source', {
  validate(spec) {
    const problems: Problem[] = [];
    const bad = (message: string) => problems.push({ code: 'INVALID_SPEC', message: `apt-source ${spec.name}: ${message}` });
    if (!NAME.test(spec.name)) bad(`name ${JSON.stringify(spec.name)} must be letters, digits, '-', '_' and '.'`);
    if (!spec.uris.length) bad('uris are empty');
    for (const u of spec.uris) if (!FIELD.test(u) || !/^(https?|file|cdrom|mirror\+\w+):/.test(u)) bad(`uri ${JSON.stringify(u)} is not an apt URI (http, https, file)`);
    if (spec.suites.length && spec.suites.some((s) => !FIELD.test(s))) bad('a suite is empty or holds spaces');
    if (spec.suites.some((s) => s.endsWith('/')) && spec.components.length) bad('a flat suite (ending in "/") takes no components');
    for (const c of [...spec.components, ...spec.architectures]) if (!FIELD.test(c)) bad(`${JSON.stringify(c)} is not one word`);
    if (!spec.key.length) bad('key is empty: every source is signed by its own key');
    else if (spec.key.length > MAX_KEY) bad(`key is larger than ${MAX_KEY} bytes`);
    return problems;
  },
  files: (spec) => [
    { path: keyPath(spec), content: Buffer.from(spec.key), mode: 0o644 },
    { path: sourcesPath(spec), content: Buffer.from(renderSources(spec)), mode: 0o644 },
  ],
});
