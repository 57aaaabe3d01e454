import { rotate } from '../../app/enroll.js';
import type { RotationStep } from '../../enroll/index.js';
import { EXIT, type GlobalOptions, type Io } from '../io.js';

const NEXT: Record<RotationStep, string> = {
  start: 'agents fetch the bundle within their trust refresh; then run "muster ca rotate switch"',
  switch: 'the new CA signs; agents renew from it at their next trust refresh; then run "muster ca rotate finish"',
  finish: 'the old CA is no longer trusted',
};

export async function run(o: GlobalOptions & { step: RotationStep }, io: Io): Promise<number> {
  const { bundle } = await rotate(o);
  io.out(`[ca] ${o.step}: the fleet trusts ${bundle.map((s) => s.replace(/\n/g, ', ')).join(' and ')}`);
  io.out(`[ca] ${NEXT[o.step]}`);
  return EXIT.OK;
}
