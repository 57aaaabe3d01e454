import { Gauge, type Registry } from 'prom-client';
import { VERSION } from './version.js';

// muster_build_info: value 1, labelled with what is running, as Prometheus exporters do.
export function registerBuildInfo(registry: Registry, program: 'musterd' | 'muster'): void {
  const g = new Gauge({ name: 'muster_build_info', help: 'The running program and its version (value 1).', labelNames: ['program', 'version', 'nodejs'], registers: [registry] });
  g.set({ program, version: VERSION, nodejs: process.version }, 1);
}
