import { createTokenFor, removeToken, tokens } from '../../app/enroll.js';
import { emit } from '../format.js';
import { EXIT, type GlobalOptions, type Io, type OutputFormat } from '../io.js';
import { table } from '../output.js';

type CreateFlags = GlobalOptions & { node?: string; labels?: Record<string, string>; ttl: number; uses: number; controller: string };

// The secret is printed once, here; the state folder keeps only its hash.
export const create = {
  async run(o: CreateFlags, io: Io): Promise<number> {
    const t = await createTokenFor({ ...o, ttlSeconds: o.ttl });
    io.out(`token:        ${t.token}`);
    io.out(`ca-cert-hash: ${t.caCertHash}`);
    io.out(`expires:      ${t.expiresAt}`);
    io.out(`on the node:  ${t.command}`);
    return EXIT.OK;
  },
};

export const list = {
  async run(o: GlobalOptions & { output: OutputFormat }, io: Io): Promise<number> {
    const all = await tokens(o);
    emit(io, o.output, all, () => {
      if (!all.length) return '[token] no unexpired tokens: make one with "muster token create"';
      return table(['ID', 'SCOPE', 'USES LEFT', 'EXPIRES', 'CREATED'], all.map((t) => [
        t.id,
        t.node ? `node=${t.node}` : t.labels ? Object.entries(t.labels).map(([k, v]) => `${k}=${v}`).join(',') : 'any',
        t.usesLeft === 0 ? '0 (used)' : String(t.usesLeft),
        t.expiresAt,
        t.createdAt,
      ]));
    });
    return EXIT.OK;
  },
};

export const remove = {
  async run(o: GlobalOptions & { id: string }, io: Io): Promise<number> {
    await removeToken(o);
    io.out(`[token] deleted ${o.id.split('.')[0]}`);
    return EXIT.OK;
  },
};
