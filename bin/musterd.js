#!/usr/bin/env node
// musterd from its bundle in dist/ (installed nodes run the musterd package's copy, under the unit).
import { bundle } from './dist.js';

await import(bundle('agent', 'agent/main.js'));
