import fs from 'node:fs/promises';
import path from 'node:path';
import type { LoopDevice } from '../../host/kernel.js';
import { submounts, type MountEntry } from '../../host/mountinfo.js';

// A process, mount or loop device that keeps a mount point busy.
export interface Holder {
  pid?: number;
  // the program as ps shows it: argv[0]'s base name ("node"), or the whole title a process gave
  // itself ("nginx: worker process"); the kernel's comm when there is no command line
  command?: string;
  // /proc/<pid>/comm when it says something else: the main thread's name ("MainThread" under Node 24)
  comm?: string;
  // what holds it: "cwd", "root", "exe", "fd 3 /mnt/x/log", "map /mnt/x/lib.so", "mount /mnt/x/sub", "loop /dev/loop3"
  uses: string[];
}

function inside(p: string, target: string): boolean {
  const clean = p.replace(/ \(deleted\)$/, '');
  return clean === target || clean.startsWith(target + '/');
}

async function link(p: string): Promise<string | null> {
  try {
    return await fs.readlink(p);
  } catch {
    return null;
  }
}

// Reads /proc itself (it is always there, fuser may not be): every process whose cwd, root,
// executable, open files or mapped files lie under the target. Processes that exit while we
// read are skipped.
export async function processHolders(target: string, proc = '/proc'): Promise<Holder[]> {
  const holders: Holder[] = [];
  const pids = (await fs.readdir(proc)).filter((n) => /^\d+$/.test(n));
  for (const pid of pids) {
    const dir = path.join(proc, pid);
    const uses: string[] = [];
    for (const name of ['cwd', 'root', 'exe']) {
      const l = await link(path.join(dir, name));
      if (l && inside(l, target)) uses.push(name === 'cwd' || name === 'root' ? name : `${name} ${l}`);
    }
    let fds: string[] = [];
    try {
      fds = await fs.readdir(path.join(dir, 'fd'));
    } catch {
      // gone, or not ours to read
    }
    for (const fd of fds) {
      const l = await link(path.join(dir, 'fd', fd));
      if (l && inside(l, target)) uses.push(`fd ${fd} ${l}`);
    }
    try {
      const maps = await fs.readFile(path.join(dir, 'maps'), 'utf8');
      const files = new Set<string>();
      for (const line of maps.split('\n')) {
        const file = line.split(/\s+/).slice(5).join(' ');
        if (file && inside(file, target)) files.add(file);
      }
      for (const f of files) uses.push(`map ${f}`);
    } catch {
      // gone
    }
    if (uses.length === 0) continue;
    holders.push({ pid: Number(pid), ...(await commandOf(dir)), uses });
  }
  return holders;
}

// comm is a thread's name, which a program may set to anything (Node 24 names its main thread
// "MainThread"), cut to 15 bytes; the command line is what an operator knows the program by.
async function commandOf(dir: string): Promise<{ command: string; comm?: string }> {
  const comm = (await fs.readFile(path.join(dir, 'comm'), 'utf8').catch(() => '?')).trim();
  const argv0 = (await fs.readFile(path.join(dir, 'cmdline'), 'utf8').catch(() => '')).split('\0')[0];
  if (!argv0) return { command: comm };
  const command = argv0.includes(' ') ? argv0 : path.basename(argv0);
  return command.startsWith(comm) ? { command } : { command, comm };
}

// Loop devices whose backing file lies under the target hold it too, as do mounts below it.
export function kernelHolders(target: string, table: MountEntry[], loops: LoopDevice[]): Holder[] {
  const holders: Holder[] = submounts(table, target).map((e) => ({ uses: [`mount ${e.mountPoint}`] }));
  for (const loop of loops) if (inside(loop.backingFile, target)) holders.push({ uses: [`loop ${loop.device} ${loop.backingFile}`] });
  return holders;
}

export function describeHolders(holders: Holder[]): string {
  const who = (h: Holder) => `pid ${h.pid} (${h.command}${h.comm ? `, thread ${h.comm}` : ''})`;
  return holders.map((h) => (h.pid !== undefined ? `${who(h)}: ${h.uses.join(', ')}` : h.uses.join(', '))).join('; ');
}
