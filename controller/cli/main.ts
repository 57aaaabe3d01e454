import { Command, InvalidArgumentError, Option } from 'commander';
import { ControllerError, controllerErrors } from '../errors.js';
import { parseDuration, parseRoleDurations } from './duration.js';
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
  // Rollouts: `muster rollout` starts one; its subcommands act on one by id (default: the latest).
  const output = () => new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table');
  const rollout = withRun(program.command('rollout').description('change the fleet in health-gated waves: etcd one by one (leader last), control plane, lb, then worker batches; exit 0 done, 1 failed or aborted, 3 paused'))
    .option('--batch <n|n%|ramp>', 'workers at a time: 5, 10%, or a ramp 1,5,25% (the last repeats)')
    .option('--by <label>', 'never change two values of this node label at once (rack)')
    .option('--canary <n>', 'pause after the first n workers until "muster rollout resume"', positiveInt)
    .option('--canary-wait <duration>', 'instead of pausing, go on once the canary stayed healthy this long (5m)', parseDuration)
    .option('--max-failed <n|n%>', 'error budget over the whole rollout: nodes that may fail before it pauses', '0')
    .option('--soak <durations>', 'how long a node must stay healthy: 30s, or per role etcd=30s,worker=0', parseRoleDurations)
    .option('--gate-timeout <durations>', 'how long a node may take to pass its gates: 5m, or per role etcd=5m,worker=2m', parseRoleDurations)
    .option('--poll <duration>', 'between health polls of a gate', parseDuration)
    .option('--hook-before <cmd>', 'shell command run before each node (MUSTER_NODE, MUSTER_ROLLOUT set): kubectl drain "$MUSTER_NODE"')
    .option('--hook-after <cmd>', 'shell command run after each node passed its gates: kubectl uncordon "$MUSTER_NODE"')
    .option('--hook-timeout <duration>', 'a hook is killed after this long', parseDuration)
    .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)')
    .option('--dry-run', 'show the plans and the waves; send and keep nothing')
    .action(lazy(() => import('./commands/rollout.js')));
  // The rollout command parses its own options (--timeout, --yes) wherever they stand, before
  // a subcommand sees them: subcommands get them merged in rather than declaring them again.
  const sub = (load: () => Promise<Impl>, args: string[]) => (...given: unknown[]) =>
    lazy(load, args)(...given.slice(0, args.length), { ...rollout.opts(), ...(given[args.length] as object) }, ...given.slice(args.length + 1));
  rollout
    .command('status [id]')
    .description('wave, node, step, since; every open wait with its probe and last error')
    .addOption(output())
    .option('-w, --watch', 'print again on every change until the rollout stops running (exit as the rollout ends)')
    .option('--interval <duration>', 'between reads with --watch', parseDuration, 1000)
    .action(sub(() => import('./commands/rollout-status.js'), ['id']));
  for (const [name, what] of [['pause', 'stop dispatching (the nodes in flight finish their step)'], ['abort', 'stop for good: nothing more is dispatched and it cannot be resumed']] as const) {
    rollout
      .command(`${name} [id]`)
      .description(`${what}; id defaults to the running one`)
      .option('--reason <text>', 'recorded in the history')
      .action(sub(() => import(`./commands/rollout-${name}.js`) as Promise<Impl>, ['id']));
  }
  rollout
    .command('resume [id]')
    .description('go on with a paused rollout, or one whose controller died (continued from the journal); --timeout as for rollout')
    .action(sub(() => import('./commands/rollout-resume.js'), ['id']));
  rollout
    .command('undo [id]')
    .description('roll the nodes a rollout changed back to their earlier plans, with the same waves and gates; --yes and --timeout as for rollout')
    .option('--to-generation <g>', 'send this generation to every node instead', positiveInt)
    .action(sub(() => import('./commands/rollout-undo.js'), ['id']));
  program
    .command('history')
    .description('plans, applies, rollouts, undos and certificate actions: who, when, result, generation before and after')
    .option('--node <name>', 'only what touched this node')
    .option('--limit <k>', 'the newest k entries', positiveInt, 50)
    .addOption(output())
    .action(lazy(() => import('./commands/history.js')));

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
