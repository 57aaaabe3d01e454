import type { Task as TaskMessage } from '../../proto/gen/muster/agent/v1/tasks.js';
import { aptSourceTask } from './apt-source.js';
import { certificateTask } from './certificate.js';
import { fileTask } from './file.js';
import { kernelModuleTask } from './kernel-module.js';
import { mountTask } from './mount/index.js';
import { packageTask } from './package.js';
import { serviceTask } from './service.js';
import { staticPodTask } from './static-pod.js';
import { swapTask } from './swap.js';
import { sysctlTask } from './sysctl.js';
import type { Task } from './task.js';

// Every task kind, listed once: the proto oneof field → its implementation.
const kinds = {
  file: fileTask,
  staticPod: staticPodTask,
  certificate: certificateTask,
  mount: mountTask,
  package: packageTask,
  aptSource: aptSourceTask,
  service: serviceTask,
  sysctl: sysctlTask,
  kernelModule: kernelModuleTask,
  swap: swapTask,
} as const;

export interface BoundTask {
  id: string;
  kind: string;
  task: Task<unknown, unknown>;
  spec: unknown;
}

// Picks the implementation for a task message, or undefined when no spec is set.
export function bind(message: TaskMessage): BoundTask | undefined {
  for (const [field, task] of Object.entries(kinds)) {
    const spec = (message as unknown as Record<string, unknown>)[field];
    if (spec !== undefined && spec !== null) {
      return { id: message.id, kind: task.kind, task: task as Task<unknown, unknown>, spec };
    }
  }
  return undefined;
}
