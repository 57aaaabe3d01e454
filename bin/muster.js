#!/usr/bin/env node
// The muster CLI from its bundle in dist/ (installed machines run the muster package's copy).
import { bundle } from './dist.js';

await import(bundle('cli', 'cli/muster.js'));
