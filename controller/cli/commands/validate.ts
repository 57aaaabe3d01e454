import { validate } from '../../app/validate.js';
import { emit } from '../format.js';
import { EXIT, type GlobalOptions, type Io, type OutputFormat } from '../io.js';
import { issuedNote, table } from '../output.js';

export async function run(o: GlobalOptions & { tasks?: string; cluster?: string; output: OutputFormat }, io: Io): Promise<number> {
  const { inv, plans, issued } = await validate(o);
  const roles = new Map(inv.nodes.map((n) => [n.name, n.roles]));
  const rows = plans.map((p) => ({ node: p.node, roles: roles.get(p.node)!, tasks: p.tasks.length, handlers: p.handlers.length, probes: p.probes.length, revision: p.revision }));
  const data = { valid: true, inputs: { inventory: o.inventory, cluster: o.cluster, tasks: o.tasks }, certificates: { issuedInMemory: issued }, nodes: rows };
  emit(io, o.output, data, (wide) => {
    const headers = ['NODE', 'ROLES', 'TASKS', 'HANDLERS', ...(wide ? ['PROBES', 'TASK IDS'] : []), 'REVISION'];
    const body = rows.map((r, i) => [r.node, r.roles.join(','), String(r.tasks), String(r.handlers), ...(wide ? [String(r.probes), plans[i].tasks.map((t) => t.id).join(',')] : []), r.revision]);
    const lines = [table(headers, body), '', `[validate] ${[o.inventory, o.cluster, o.tasks].filter(Boolean).join(', ')}: valid; ${plans.length} node plans, every manifest checked`];
    const note = issuedNote('[validate]', issued);
    if (note) lines.push(note);
    return lines.join('\n');
  });
  return EXIT.OK;
}
