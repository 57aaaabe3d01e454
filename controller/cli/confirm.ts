import { createInterface } from 'node:readline/promises';
import { ControllerError } from '../errors.js';

// Asks before changing nodes, as terraform apply does; only "yes" goes on. Without a terminal
// to answer (a pipe, CI) it refuses rather than guess: give --yes.
export async function confirm(question: string, yes: boolean | undefined): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) throw new ControllerError('CONFIRMATION_REQUIRED', `${question} No terminal to answer: give --yes to go on without asking`);
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return (await rl.question(`${question} Only "yes" is accepted: `)).trim() === 'yes';
  } finally {
    rl.close();
  }
}
