#!/usr/bin/env node
// The muster CLI from the TypeScript sources (tsx compiles on the fly and caches).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

await import('tsx/esm');
await import(join(dirname(fileURLToPath(import.meta.url)), '..', 'controller', 'cli', 'run.ts'));
