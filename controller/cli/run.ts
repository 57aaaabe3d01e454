import { enableCompileCache } from 'node:module';

// V8's compile cache (Node ≥ 22.1) keeps the compiled code of every module loaded after this
// line on disk, so a second `muster` start skips most of its compilation. It lives in the
// user's own cache folder, never the shared /tmp (Node's default), where anyone may plant files.
const cacheHome = process.env.XDG_CACHE_HOME || (process.env.HOME ? `${process.env.HOME}/.cache` : '');
if (cacheHome && !process.env.NODE_COMPILE_CACHE) enableCompileCache?.(`${cacheHome}/muster/compile-cache`);

// A closed pipe (muster plan | head) ends output quietly instead of crashing.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
const { main } = await import('./main.js');
process.exitCode = await main(process.argv);
