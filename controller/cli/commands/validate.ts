import { validate } from '../../app/validate.js';
import { EXIT, type GlobalOptions, type Io } from '../io.js';
import { issuedNote, table } from '../output.js';

export async function run(o: GlobalOptions & { tasks?: string; cluster?: string }, io: Io): Promise<number> {
  const { inv, plans, issued } = await validate(o);
  io.out(table(['NODE', 'ROLES', 'TASKS', 'HANDLERS', 'REVISION'], plans.map((p) => {
    const node = inv.nodes.find((n) => n.name === p.node)!;
    return [p.node, node.roles.join(','), String(p.tasks.length), String(p.handlers.length), p.revision];
  })));
  io.out(`\n[validate] ${[o.inventory, o.cluster, o.tasks].filter(Boolean).join(', ')}: valid; ${plans.length} node plans, every manifest checked`);
  const note = issuedNote('[validate]', issued);
  if (note) io.out(note);
  return EXIT.OK;
}
