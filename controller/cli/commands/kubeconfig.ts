import { adminKubeconfig, writeKubeconfig } from '../../app/kubeconfig.js';
import { EXIT, type GlobalOptions, type Io } from '../io.js';

export async function run(o: GlobalOptions & { cluster: string; output?: string }, io: Io): Promise<number> {
  const { text, server, issued } = await adminKubeconfig(o);
  if (!o.output) {
    io.out(text.trimEnd());
    return EXIT.OK;
  }
  await writeKubeconfig(o.output, text);
  io.out(`[kubeconfig] ${o.output} (0600): kubernetes-admin (system:masters) at ${server}${issued ? '; the admin certificate was issued and kept in the state folder' : ''}`);
  return EXIT.OK;
}
