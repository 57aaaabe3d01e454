#!/usr/bin/env node
// Runs the TypeScript sources through tsx when no compiled build sits beside them.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'controller', 'cli', 'run.js');
if (existsSync(built)) await import(built);
else {
  await import('tsx/esm');
  await import(join(root, 'controller', 'cli', 'run.ts'));
}
