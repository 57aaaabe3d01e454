// bin/ runs the bundles that `npm run build` puts in dist/, never TypeScript at run time. It refuses a
// bundle older than any source it was built from, so an edit is never run through a stale build.
import fs from 'node:fs';
import process from 'node:process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function stale(reason) {
  process.stderr.write(`${reason}: run \`npm run build\` (about a second) and try again\n`);
  process.exit(1);
}

const mtime = (file) => {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
};

// The path of a fresh bundle of program ('agent' or 'cli'), rel being its file under dist/.
export function bundle(program, rel) {
  const file = path.join(repo, 'dist', rel);
  const built = mtime(file);
  if (built === undefined) stale(`no build of ${rel} in dist/`);
  let sources;
  try {
    sources = JSON.parse(fs.readFileSync(path.join(repo, 'dist', 'sources.json'), 'utf8'))[program];
  } catch {
    stale('dist/sources.json is missing');
  }
  for (const source of [...sources, 'package-lock.json']) {
    const changed = mtime(path.join(repo, source));
    if (changed === undefined || changed > built) stale(`${source} changed after the build in dist/`);
  }
  return file;
}
