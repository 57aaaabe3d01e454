import { age } from '../../controller/fleet/age.ts';

// Milliseconds from what the API sends: ISO time (viewJson) or Unix milliseconds (the store's records).
export function ms(at: string | number | undefined): number | undefined {
  if (at === undefined || at === '') return undefined;
  const v = typeof at === 'number' ? at : /^\d+$/.test(at) ? Number(at) : Date.parse(at);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

export const ago = (at: string | number | undefined, now: number) => age(ms(at), now);

export function clock(at: string | number | undefined): string {
  const v = ms(at);
  return v === undefined ? '-' : new Date(v).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export const basename = (p: string) => p.split('/').pop() ?? p;
