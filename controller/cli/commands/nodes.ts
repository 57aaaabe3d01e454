import { enrollment } from '../../app/enroll.js';
import { emit } from '../format.js';
import { EXIT, type GlobalOptions, type Io, type OutputFormat } from '../io.js';
import { table } from '../output.js';

export const pending = {
  async run(o: GlobalOptions & { output: OutputFormat }, io: Io): Promise<number> {
    const all = await (await enrollment(o)).listPending();
    emit(io, o.output, all, () => {
      if (!all.length) return '[nodes] no join request is waiting';
      return table(['NAME', 'PEER', 'REQUESTED', 'TOKEN', 'MACHINE ID', 'MACS'], all.map((p) => [p.name, p.peer || '-', p.requestedAt, p.tokenId, p.facts.machineId || '-', p.facts.macs.join(',') || '-']));
    });
    return EXIT.OK;
  },
};

const decide = (verb: 'approve' | 'deny', said: string) => ({
  async run(o: GlobalOptions & { name: string }, io: Io): Promise<number> {
    const p = await (await enrollment(o))[verb](o.name);
    io.out(`[nodes] ${said} the join request of ${p.name} (from ${p.peer || 'an unknown address'}); ${verb === 'approve' ? 'its next attempt is signed' : 'its next attempt is refused'}`);
    return EXIT.OK;
  },
});

export const approve = decide('approve', 'approved');
export const deny = decide('deny', 'denied');

export const revoke = {
  async run(o: GlobalOptions & { name: string }, io: Io): Promise<number> {
    const added = await (await enrollment(o)).revoke(o.name);
    if (!added.length) io.out(`[nodes] every certificate of ${o.name} was on the revocation list already`);
    else io.out(`[nodes] revoked ${added.length} certificate(s) of ${o.name} (serial ${added.map((r) => r.serial).join(', ')}): the controller refuses it at its next handshake, agents within their next trust refresh`);
    return EXIT.OK;
  },
};
