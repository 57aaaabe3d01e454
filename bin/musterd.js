#!/usr/bin/env node
// musterd from the TypeScript sources. Installed nodes run the compiled dist/agent/main.js
// instead (packaging/systemd/musterd.service): smaller and faster to start.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

await import('tsx/esm');
await import(join(dirname(fileURLToPath(import.meta.url)), '..', 'agent', 'main.ts'));
