import { enableCompileCache } from 'node:module';

// V8's compile cache (Node ≥ 22.1) keeps the compiled code of every module loaded after this
// line on disk, so a second `muster` start skips most of its compilation.
enableCompileCache?.();

// A closed pipe (muster plan | head) ends output quietly instead of crashing.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
const { main } = await import('./main.js');
process.exitCode = await main(process.argv);
