import type { Registry } from 'prom-client';
import gc from 'prom-client/lib/metrics/gc.js';
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import processCpuTotal from 'prom-client/lib/metrics/processCpuTotal.js';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors.js';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors.js';
import processStartTime from 'prom-client/lib/metrics/processStartTime.js';
import version from 'prom-client/lib/metrics/version.js';

// prom-client's default process metrics, less three and the event-loop lag: its
// nodejs_active_{handles,requests,resources}_total are gauges named like counters (promtool
// rejects them), and the lag monitor wakes an idle process every 10 ms.
export function registerProcessMetrics(register: Registry): void {
  for (const collector of [processCpuTotal, processStartTime, osMemoryHeap, processOpenFileDescriptors, processMaxFileDescriptors, heapSizeAndUsed, version, gc]) {
    collector(register, {});
  }
}
