import { Command, InvalidArgumentError } from 'commander';
import { ControllerError, controllerErrors } from '../errors.js';
import { EXIT, stdoutIo, type GlobalOptions, type Io } from './io.js';

// Every command is registered here with its flags only; its implementation (and the modules it
// needs: gRPC, the renderers, the PKI) is loaded by import() when it runs, so `muster --help`
// loads none of them.

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
};

type Impl = { run(o: never, io: Io): Promise<number> };

// Builds the CLI; `io` lets tests capture what a user would see.
export function buildCli(io: Io = stdoutIo()): { program: Command; exitCode: () => number } {
  let code: number = EXIT.OK;
  const program = new Command('muster')
    .description('converge bare-metal fleets into highly available Kubernetes clusters')
    .option('-s, --state <dir>', 'controller state folder (PKI, issued certificates)', process.env.MUSTER_STATE ?? '.muster')
    .option('-i, --inventory <file>', 'inventory file', process.env.MUSTER_INVENTORY ?? 'inventory.yaml')
    .showHelpAfterError();
  const global = (): GlobalOptions => program.opts() as GlobalOptions;
  // The action: global options, then the command's own, then its arguments.
  const lazy = (load: () => Promise<Impl>, args: string[] = []) => async (...given: unknown[]) => {
    const opts = given[args.length] as Record<string, unknown>;
    const named = Object.fromEntries(args.map((a, i) => [a, given[i]]));
    const impl = await load();
    code = await impl.run({ ...global(), ...opts, ...named } as never, io);
  };

  program
    .command('init')
    .description('create the fleet CA, the controller certificate and one certificate per agent')
    .action(lazy(() => import('./commands/init.js')));

  const withRun = (c: Command) =>
    c
      .option('-c, --cluster <file>', 'cluster spec (YAML): the HA control plane, load balancer, DNS')
      .option('-t, --tasks <file>', 'task file (YAML): extra tasks, alone or after the cluster\'s')
      .option('--concurrency <n>', 'agents contacted at once', positiveInt, 64)
      .option('--timeout <seconds>', 'deadline for each node', positiveInt, 300)
      .option('--no-diff', 'list what changes without the diffs')
      .option('--json', 'print results as JSON');

  withRun(program.command('plan').description('check mode on every agent: what would change, per node and task (exit 2 when something would)'))
    .action(lazy(() => import('./commands/plan.js')));
  withRun(program.command('apply').description('converge every node, with a concurrency limit and live progress'))
    .action(lazy(() => import('./commands/apply.js')));
  program
    .command('status')
    .description('the fleet: reachable, revision, ready, probes, drift repairs, soonest certificate expiry')
    .option('--concurrency <n>', 'agents contacted at once', positiveInt, 64)
    .option('--json', 'print as JSON')
    .option('-w, --watch', 'a live view fed by every agent\'s status stream')
    .action(lazy(() => import('./commands/status.js')));
  program
    .command('facts <node>')
    .description("the agent's facts about its machine")
    .option('--refresh', 'read the machine again instead of the cache', false)
    .action(lazy(() => import('./commands/facts.js'), ['node']));

  program
    .command('validate')
    .description('load and render every node\'s plan without contacting an agent or writing anything; report every problem with file, line and field')
    .option('-c, --cluster <file>', 'cluster spec (YAML)')
    .option('-t, --tasks <file>', 'task file (YAML)')
    .action(lazy(() => import('./commands/validate.js')));

  const certs = program.command('certs').description('the cluster\'s certificates in the state folder');
  certs
    .command('check-expiration')
    .description('every certificate, when it expires and the days left (exit 1 when one has expired)')
    .option('--warn-days <n>', 'mark certificates with fewer days left', positiveInt, 30)
    .option('--json', 'print as JSON')
    .action(lazy(() => import('./commands/certs-check.js')));
  certs
    .command('renew')
    .description('re-issue certificates (all, or those expiring within --within days); the next apply rolls them out')
    .option('--within <days>', 'only those with fewer days left', positiveInt)
    .action(lazy(() => import('./commands/certs-renew.js')));

  const etcd = program.command('etcd').description('etcd snapshots, saved by the agents on etcd nodes in their state folder');
  etcd
    .command('snapshot')
    .description('save a snapshot through etcd\'s v3 API on --node (default: the first etcd node that takes one)')
    .option('--node <name>', 'the etcd node')
    .option('--keep <n>', 'snapshots kept on the node, this one included', positiveInt, 5)
    .action(lazy(() => import('./commands/etcd-snapshot.js')));
  etcd
    .command('snapshots')
    .description('the snapshots on every etcd node (or --node): time, size, revision, checksum')
    .option('--node <name>', 'only this etcd node')
    .option('--json', 'print as JSON')
    .action(lazy(() => import('./commands/etcd-snapshots.js')));

  const discovery = program.command('discovery').description('etcd v2 discovery for bootstrapping etcd with --discovery, without internet access');
  discovery
    .command('serve')
    .description('serve the discovery protocol (tokens persist in the state folder)')
    .option('--listen <host:port>', 'address to listen on', '0.0.0.0:2381')
    .option('--public-url <url>', 'base of the URLs handed out, when behind a proxy')
    .action(lazy(() => import('./commands/discovery-serve.js')));
  discovery
    .command('new')
    .description('create a token for a cluster of --size members and print its URL (use it as etcd.discovery)')
    .option('--size <n>', 'number of etcd members', positiveInt, 3)
    .option('--server <url>', 'the discovery service', 'http://127.0.0.1:2381')
    .action(lazy(() => import('./commands/discovery-new.js')));

  program
    .command('serve')
    .description('the long-running controller: a live view of every agent over HTTP (/v1/fleet, /v1/nodes/:name, /metrics, /healthz)')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:7480')
    .action(lazy(() => import('./commands/serve.js')));

  return { program, exitCode: () => code };
}

// Errors from modules this file does not load up front are told apart by name.
interface SpecErrorLike extends Error {
  problems: unknown[];
}

export async function main(argv: string[]): Promise<number> {
  const { program, exitCode } = buildCli();
  try {
    await program.parseAsync(argv);
    return exitCode();
  } catch (err) {
    const e = err as Error;
    if (e.name === 'SpecError') {
      process.stderr.write(`muster: the input has ${(e as SpecErrorLike).problems.length} problem(s); nothing was sent to any agent\n${e.message}\n`);
      return controllerErrors.SPEC_INVALID.exit;
    }
    if (e instanceof ControllerError) {
      process.stderr.write(`muster: ${e.code}: ${e.message}\n`);
      return controllerErrors[e.code].exit;
    }
    process.stderr.write(`muster: ${e.message}\n`);
    return EXIT.FAILED;
  }
}
