import { facts } from '../../app/facts.js';
import { age, emit } from '../format.js';
import { EXIT, type GlobalOptions, type Io, type OutputFormat } from '../io.js';
import { table } from '../output.js';

const gib = (bytes: number | string | undefined) => `${(Number(bytes ?? 0) / 2 ** 30).toFixed(1)} GiB`;

// The table is the machine at a glance; -o json|yaml has every fact the agent read.
export async function run(o: GlobalOptions & { node: string; refresh: boolean; output: OutputFormat }, io: Io): Promise<number> {
  const f = await facts(o);
  emit(io, o.output, f, (wide) => {
    const rows: string[][] = [
      ['node', o.node],
      ['hostname', f?.hostname ?? '-'],
      ['collected', f?.collectedAtMs ? `${age(Number(f.collectedAtMs))} ago` : '-'],
      ['os', [f?.os, f?.osRelease, f?.kernel && `kernel ${f.kernel}`, f?.arch].filter(Boolean).join(' ') || '-'],
      ['cpu', f?.cpu ? `${f.cpu.model} (${f.cpu.cores} cores)` : '-'],
      ['memory', f?.memory ? gib(f.memory.totalBytes) : '-'],
      ['disks', String(f?.disks.length ?? 0)],
      ['interfaces', String(f?.interfaces.length ?? 0)],
    ];
    if (wide) {
      for (const d of f?.disks ?? []) rows.push(['disk', `${d.device} ${gib(d.sizeBytes)} ${d.type} ${d.model}`.trim()]);
      for (const n of f?.interfaces ?? []) rows.push(['interface', `${n.name} ${n.up ? 'up' : 'down'} ${n.mac} ${n.addresses.join(' ')}`]);
    }
    return table(['FACT', 'VALUE'], rows);
  });
  return EXIT.OK;
}
