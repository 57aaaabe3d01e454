import fs from 'node:fs/promises';
import path from 'node:path';
import type { Host } from '../host/host.js';

// The kernel and init state the system task kinds read (/proc, /sys, systemd's run folder),
// under the host's root prefix: one small seam, so these reads can move onto the task
// context's kernel interface without touching the kinds.

// A kernel file's text, or null when the kernel has no such file.
export async function readKernelFile(host: Host, hostPath: string): Promise<string | null> {
  try {
    return await fs.readFile(kernelPath(host, hostPath), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

// /proc/sys files are written in place: they are not files a rename could replace.
export async function writeKernelFile(host: Host, hostPath: string, value: string): Promise<void> {
  await fs.writeFile(kernelPath(host, hostPath), value);
}

export async function kernelPathExists(host: Host, hostPath: string): Promise<boolean> {
  return fs.stat(kernelPath(host, hostPath)).then(() => true, () => false);
}

// systemd is running as init on this host (the live half of a unit can be seen and changed).
export async function systemdBooted(host: Host): Promise<boolean> {
  return host.root === '/' && (await kernelPathExists(host, '/run/systemd/system'));
}

function kernelPath(host: Host, hostPath: string): string {
  if (!/^\/(proc|sys|run)\//.test(hostPath) || hostPath.split('/').includes('..')) {
    throw new Error(`kernel path ${hostPath} is not below /proc, /sys or /run`);
  }
  return path.join(host.root, hostPath);
}
