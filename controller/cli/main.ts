import { Command, InvalidArgumentError } from 'commander';
import { SpecError } from '../../common/yaml-load.js';
import { ControllerError, controllerErrors } from '../errors.js';
import { NodeError } from '../fleet/client.js';
import { certsCheckCommand, certsRenewCommand, discoveryNewCommand, discoveryServeCommand, serveCommand, validateCommand } from './more-commands.js';
import { applyCommand, factsCommand, initCommand, planCommand, statusCommand, EXIT, type GlobalOptions } from './commands.js';

type RunFlags = { tasks?: string; cluster?: string; concurrency: number; timeout: number; diff: boolean; json?: boolean };

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
};

// Builds the CLI; `out` lets tests capture what a user would see.
export function buildCli(out?: (line: string) => void): { program: Command; exitCode: () => number } {
  let code: number = EXIT.OK;
  const program = new Command('muster')
    .description('converge bare-metal fleets into highly available Kubernetes clusters')
    .option('-s, --state <dir>', 'controller state folder (PKI, issued certificates)', process.env.MUSTER_STATE ?? '.muster')
    .option('-i, --inventory <file>', 'inventory file', process.env.MUSTER_INVENTORY ?? 'inventory.yaml')
    .showHelpAfterError();
  const global = (): GlobalOptions => ({ ...(program.opts() as { state: string; inventory: string }), out });
  const run = (fn: () => Promise<number>) => async () => {
    code = await fn();
  };

  program
    .command('init')
    .description('create the fleet CA, the controller certificate and one certificate per agent')
    .action(run(() => initCommand(global())));

  const withRun = (c: Command) =>
    c
      .option('-c, --cluster <file>', 'cluster spec (YAML): the HA control plane, load balancer, DNS')
      .option('-t, --tasks <file>', 'task file (YAML): extra tasks, alone or after the cluster\'s')
      .option('--concurrency <n>', 'agents contacted at once', positiveInt, 64)
      .option('--timeout <seconds>', 'deadline for each node', positiveInt, 300)
      .option('--no-diff', 'list what changes without the diffs')
      .option('--json', 'print results as JSON');

  withRun(program.command('plan').description('check mode on every agent: what would change, per node and task (exit 2 when something would)')).action(
    (opts: RunFlags) => run(() => planCommand({ ...global(), ...opts }))(),
  );
  withRun(program.command('apply').description('converge every node, with a concurrency limit and live progress')).action(
    (opts: RunFlags) => run(() => applyCommand({ ...global(), ...opts }))(),
  );
  program
    .command('status')
    .description('the fleet: reachable, revision, ready, probes, drift repairs, soonest certificate expiry')
    .option('--concurrency <n>', 'agents contacted at once', positiveInt, 64)
    .option('--json', 'print as JSON')
    .option('-w, --watch', 'a live view fed by every agent\'s status stream')
    .action((opts: { concurrency: number; json?: boolean; watch?: boolean }) => run(() => statusCommand({ ...global(), ...opts }))());
  program
    .command('facts <node>')
    .description("the agent's facts about its machine")
    .option('--refresh', 'read the machine again instead of the cache', false)
    .action((node: string, opts: { refresh: boolean }) => run(() => factsCommand({ ...global(), node, refresh: opts.refresh }))());

  program
    .command('validate')
    .description('load and render every node\'s plan without contacting an agent; report every problem with file, line and field')
    .option('-c, --cluster <file>', 'cluster spec (YAML)')
    .option('-t, --tasks <file>', 'task file (YAML)')
    .action((opts: { cluster?: string; tasks?: string }) => run(() => validateCommand({ ...global(), ...opts }))());

  const certs = program.command('certs').description('the cluster\'s certificates in the state folder');
  certs
    .command('check-expiration')
    .description('every certificate, when it expires and the days left (exit 1 when one has expired)')
    .option('--warn-days <n>', 'mark certificates with fewer days left', positiveInt, 30)
    .option('--json', 'print as JSON')
    .action((opts: { warnDays: number; json?: boolean }) => run(() => certsCheckCommand({ ...global(), ...opts }))());
  certs
    .command('renew')
    .description('re-issue certificates (all, or those expiring within --within days); the next apply rolls them out')
    .option('--within <days>', 'only those with fewer days left', positiveInt)
    .action((opts: { within?: number }) => run(() => certsRenewCommand({ ...global(), ...opts }))());

  const discovery = program.command('discovery').description('etcd v2 discovery for bootstrapping etcd with --discovery, without internet access');
  discovery
    .command('serve')
    .description('serve the discovery protocol (tokens persist in the state folder)')
    .option('--listen <host:port>', 'address to listen on', '0.0.0.0:2381')
    .option('--public-url <url>', 'base of the URLs handed out, when behind a proxy')
    .action((opts: { listen: string; publicUrl?: string }) => run(() => discoveryServeCommand({ ...global(), ...opts }))());
  discovery
    .command('new')
    .description('create a token for a cluster of --size members and print its URL (use it as etcd.discovery)')
    .option('--size <n>', 'number of etcd members', positiveInt, 3)
    .option('--server <url>', 'the discovery service', 'http://127.0.0.1:2381')
    .action((opts: { size: number; server: string }) => run(() => discoveryNewCommand({ ...global(), ...opts }))());

  program
    .command('serve')
    .description('the long-running controller: a live view of every agent over HTTP (/v1/fleet, /v1/nodes/:name, /metrics, /healthz)')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:7480')
    .action((opts: { listen: string }) => run(() => serveCommand({ ...global(), ...opts }))());

  return { program, exitCode: () => code };
}

export async function main(argv: string[]): Promise<number> {
  const { program, exitCode } = buildCli();
  try {
    await program.parseAsync(argv);
    return exitCode();
  } catch (err) {
    if (err instanceof SpecError) {
      process.stderr.write(`muster: the input has ${err.problems.length} problem(s); nothing was sent to any agent\n${err.message}\n`);
      return controllerErrors.SPEC_INVALID.exit;
    } else if (err instanceof ControllerError) {
      process.stderr.write(`muster: ${err.code}: ${err.message}\n`);
      return controllerErrors[err.code].exit;
    } else if (err instanceof NodeError) {
      process.stderr.write(`muster: ${err.message}\n`);
    } else {
      process.stderr.write(`muster: ${(err as Error).message}\n`);
    }
    return EXIT.FAILED;
  }
}
