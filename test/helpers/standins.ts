import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'standins');

// Puts the unit tests' stand-ins (modprobe, swapoff, systemctl's live half) first on PATH, acting on the temp root
// named by the setup hook; each test names them as stand-ins.
export function useStandins(): { rootFor(real: (p: string) => string): void } {
  if (!process.env.PATH?.startsWith(dir)) process.env.PATH = `${dir}:${process.env.PATH}`;
  return { rootFor: (real) => (process.env.MUSTER_STANDIN_ROOT = real('/')) };
}
