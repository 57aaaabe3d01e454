#!/usr/bin/env node
// Runs the compiled agent when built (the small, fast path for nodes), else the sources via tsx.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'agent', 'main.js');
if (existsSync(built)) await import(built);
else {
  await import('tsx/esm');
  await import(join(root, 'agent', 'main.ts'));
}
