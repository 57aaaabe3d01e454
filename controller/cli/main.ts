import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import os from 'node:os';
import { DEFAULT_ENROLL_PORT } from '../enroll/port.js';
import { ControllerError, controllerErrors } from '../errors.js';
import { VERSION } from '../version.js';
import { parseDuration, parseRoleDurations } from './duration.js';
import { EXIT, OUTPUT_FORMATS, stdoutIo, type Io } from './io.js';

// Every command is registered here with its flags only; its implementation (and the modules it
// needs: gRPC, the renderers, the PKI) is loaded by import() when it runs, so `muster --help`
// loads none of them. docs/cli.md lists the commands, their flags and exit codes.

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
};

// 90s, 30m, 1h, 2d or plain seconds.
const duration = (v: string) => {
  const m = /^(\d+)([smhd]?)$/.exec(v.trim());
  const n = m ? Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'] : 0;
  if (!n) throw new InvalidArgumentError('must be a duration above 0: 90s, 30m, 1h or 2d');
  return n;
};

// k=v,k2=v2
const labels = (v: string) => {
  const out: Record<string, string> = {};
  for (const pair of v.split(',')) {
    const m = /^([A-Za-z0-9_./-]+)=([A-Za-z0-9_.-]*)$/.exec(pair.trim());
    if (!m) throw new InvalidArgumentError(`${JSON.stringify(pair)} is not key=value`);
    out[m[1]] = m[2];
  }
  return out;
};

const hostPort = (v: string) => {
  if (!/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(v) || Number(v.slice(v.lastIndexOf(':') + 1)) > 65535) throw new InvalidArgumentError('must be HOST:PORT');
  return v;
};

type Impl = { run(o: never, io: Io): Promise<number> };

// Options a config file may set, by the name commander gives them.
const CONFIGURABLE = ['state', 'inventory', 'cluster', 'tasks', 'concurrency', 'timeout', 'output', 'diff', 'store', 'controller', 'cert', 'key', 'ca'] as const;

const outputOption = () => new Option('-o, --output <format>', 'table, wide (more columns), json or yaml').choices(OUTPUT_FORMATS).default('table');
const jsonOption = () => new Option('--json', 'the same as -o json');
const limitOption = (what: string) => new Option('-l, --limit <nodes>', `only these nodes ${what}: names (m1,m2, w*), role=worker, rack=a labels, & to combine, ! to exclude`);

// Builds the CLI; `io` lets tests capture what a user would see.
export function buildCli(io: Io = stdoutIo()): { program: Command; exitCode: () => number } {
  let code: number = EXIT.OK;
  const program = new Command('muster')
    .description('converge bare-metal fleets into highly available Kubernetes clusters')
    .version(VERSION, '-V, --version', 'print the version')
    .addOption(new Option('-s, --state <dir>', 'controller state folder (PKI, issued certificates)').env('MUSTER_STATE').default('.muster'))
    .addOption(new Option('-i, --inventory <file>', 'inventory file').env('MUSTER_INVENTORY').default('inventory.yaml'))
    .addOption(new Option('--config <file>', 'controller config file (default: $MUSTER_CONFIG, else ./muster.yaml when present)'))
    .addOption(new Option('--controller <url>', 'run apply, rollout, status and history through muster serve at this https://HOST:PORT instead of in this process').env('MUSTER_CONTROLLER'))
    .addOption(new Option('--cert <file>', 'with --controller: the operator (or reader) certificate, from "muster certs issue"'))
    .addOption(new Option('--key <file>', 'with --controller: its key'))
    .addOption(new Option('--ca <file>', 'with --controller: the fleet CA its certificate chains to (default: <state>/pki/fleet/ca.crt)'))
    .showHelpAfterError()
    // Help, --version and usage errors come back to main() instead of exiting the process.
    .exitOverride();

  // The action: the config file under the flags, then global options, the command's own, its arguments.
  const lazy = (load: () => Promise<Impl>, args: string[] = []) => async (...given: unknown[]) => {
    const cmd = given[args.length + 1] as Command;
    // A subcommand also gets its parent's options (rollout's --yes, --timeout), which the parent parses wherever they stand.
    const opts = { ...program.opts(), ...(cmd.parent === program ? {} : cmd.parent?.opts()), ...cmd.opts() } as Record<string, unknown>;
    // commander gives a --controller anywhere to the program's option; token create has its own (the enrollment address).
    if (cmd.options.some((x) => x.attributeName() === 'controller') && program.getOptionValueSource('controller') === 'cli' && cmd.getOptionValueSource('controller') === 'default') opts.controller = program.opts().controller;
    await applyConfig(opts, [program, cmd]);
    if (opts.json) opts.output = 'json';
    const named = Object.fromEntries(args.map((a, i) => [a, given[i]]));
    const impl = await load();
    code = await impl.run({ ...opts, ...named } as never, io);
  };
  const applyConfig = async (opts: Record<string, unknown>, cmds: Command[]) => {
    const { configPath, loadConfig } = await import('../inputs/config.js');
    const file = configPath(opts.config as string | undefined);
    if (!file) return;
    const config = await loadConfig(file).catch((err: Error) => {
      throw new ControllerError('CONFIG_INVALID', `${file} does not load:\n${err.message}`);
    });
    for (const key of CONFIGURABLE) {
      if (config[key] === undefined) continue;
      // token create's own --controller is the enrollment address, not the API the config names.
      if (cmds.at(-1) !== program && cmds.at(-1)!.options.some((o) => o.attributeName() === key) && program.options.some((o) => o.attributeName() === key)) continue;
      const owner = cmds.find((c) => c.options.some((o) => o.attributeName() === key));
      const source = owner?.getOptionValueSource(key);
      if (owner && (source === undefined || source === 'default')) opts[key] = config[key];
    }
  };

  program
    .command('init')
    .description('create the fleet CA, the controller certificate and one certificate per agent')
    .action(lazy(() => import('./commands/init.js')));

  const withRun = (c: Command, what: string) =>
    c
      .option('-c, --cluster <file>', 'cluster spec (YAML): the HA control plane, load balancer, DNS')
      .option('-t, --tasks <file>', 'task file (YAML): extra tasks, alone or after the cluster\'s')
      .addOption(limitOption(what))
      .option('--concurrency <n>', 'agents contacted at once', positiveInt, 64)
      .option('--timeout <seconds>', 'deadline for each node', positiveInt, 300)
      .option('--no-diff', 'list what changes without the diffs')
      .addOption(outputOption())
      .addOption(jsonOption());

  withRun(program.command('plan').description('check mode on every agent: what would change, per node and task (exit 2 when something would)'), 'are checked')
    .action(lazy(() => import('./commands/plan.js')));
  withRun(program.command('apply').description('converge every node, with a concurrency limit and live progress'), 'are changed')
    .action(lazy(() => import('./commands/apply.js')));
  // Rollouts: `muster rollout` starts one; its subcommands act on one by id (default: the latest).
  const rollout = withRun(program.command('rollout').description('change the fleet in health-gated waves: etcd one by one (leader last), control plane, lb, then worker batches; exit 0 done, 1 failed or aborted, 3 paused'), 'are rolled out')
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
  rollout
    .command('status [id]')
    .description('wave, node, step, since; every open wait with its probe and last error; -o as for rollout')
    .option('-w, --watch', 'print again on every change until the rollout stops running (exit as the rollout ends)')
    .option('--interval <duration>', 'between reads with --watch', parseDuration, 1000)
    .action(lazy(() => import('./commands/rollout-status.js'), ['id']));
  rollout
    .command('pause [id]')
    .description('stop dispatching (the nodes in flight finish their step); id defaults to the running one')
    .option('--reason <text>', 'recorded in the history')
    .action(lazy(() => import('./commands/rollout-pause.js'), ['id']));
  rollout
    .command('abort [id]')
    .description('stop for good: nothing more is dispatched and it cannot be resumed; id defaults to the running or paused one')
    .option('--reason <text>', 'recorded in the history')
    .action(lazy(() => import('./commands/rollout-abort.js'), ['id']));
  rollout
    .command('resume [id]')
    .description('go on with a paused rollout, or one whose controller died (continued from the journal); --timeout as for rollout')
    .action(lazy(() => import('./commands/rollout-resume.js'), ['id']));
  rollout
    .command('undo [id]')
    .description('roll the nodes a rollout changed back to their earlier plans, with the same waves and gates; --yes and --timeout as for rollout')
    .option('--to-generation <g>', 'send this generation to every node instead', positiveInt)
    .action(lazy(() => import('./commands/rollout-undo.js'), ['id']));
  program
    .command('history')
    .description('plans, applies, rollouts, undos and certificate actions: who, when, result, generation before and after')
    .option('--node <name>', 'only what touched this node')
    .option('--limit <k>', 'the newest k entries', positiveInt, 50)
    .addOption(outputOption())
    .action(lazy(() => import('./commands/history.js')));

  program
    .command('status')
    .description('the fleet: reachable, revision, ready, probes, drift repairs, soonest certificate expiry')
    .addOption(limitOption('are shown'))
    .option('--concurrency <n>', 'agents contacted at once', positiveInt, 64)
    .addOption(outputOption())
    .addOption(jsonOption())
    .option('-w, --watch', 'a live view fed by every agent\'s status stream')
    .action(lazy(() => import('./commands/status.js')));
  program
    .command('facts <node>')
    .description("the agent's facts about its machine")
    .option('--refresh', 'read the machine again instead of the cache', false)
    .addOption(outputOption())
    .addOption(jsonOption())
    .action(lazy(() => import('./commands/facts.js'), ['node']));

  program
    .command('validate')
    .description('load and render every node\'s plan without contacting an agent or writing anything; report every problem with file, line and field')
    .option('-c, --cluster <file>', 'cluster spec (YAML)')
    .option('-t, --tasks <file>', 'task file (YAML)')
    .addOption(outputOption())
    .addOption(jsonOption())
    .action(lazy(() => import('./commands/validate.js')));

  const certs = program.command('certs').description('the cluster\'s and the fleet\'s certificates in the state folder');
  certs
    .command('check-expiration')
    .description('every certificate, cluster and fleet, when it expires and the days left (exit 1 when one has expired)')
    .option('--warn-days <n>', 'mark certificates with fewer days left', positiveInt, 30)
    .addOption(outputOption())
    .addOption(jsonOption())
    .action(lazy(() => import('./commands/certs-check.js')));
  certs
    .command('issue <name>')
    .description('a fleet client certificate: reader (GetStatus, GetFacts, WatchStatus and the API\'s reads, never Apply) or operator (the controller API, read and write)')
    .addOption(new Option('--role <role>', 'the certificate role').choices(['reader', 'operator']).makeOptionMandatory())
    .option('-o, --out-dir <dir>', 'also write <name>.crt and <name>.key (0600) into this folder')
    .action(lazy(() => import('./commands/certs-issue.js'), ['name']));
  certs
    .command('renew')
    .description('re-issue certificates (all, or those expiring within --within days); the next apply rolls them out')
    .option('--within <days>', 'only those with fewer days left', positiveInt)
    .action(lazy(() => import('./commands/certs-renew.js')));

  program
    .command('kubeconfig')
    .description("the operator's admin kubeconfig (kubernetes-admin, system:masters) through the API VIP; printed, or written 0600 with -o")
    .requiredOption('-c, --cluster <file>', 'cluster spec (YAML)')
    .option('-o, --output <file>', 'write it to this file (mode 0600) instead of printing it')
    .action(lazy(() => import('./commands/kubeconfig.js')));
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
    // Loopback unless told: registrations come from etcd members, tokens from the operator (docs/security.md).
    .option('--listen <host:port>', 'address to listen on (0.0.0.0:2381 for every interface)', '127.0.0.1:2381')
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
    .description('the long-running controller: holds a channel to every agent, runs applies and rollouts as jobs, serves its API over mutual TLS (docs/controller.md) and the enrollment port nodes join on')
    .option('--listen <host:port>', 'address of the API (HTTPS, client certificates from the fleet CA); 0.0.0.0:7480 for every interface', hostPort, '127.0.0.1:7480')
    .option('--san <names>', 'more names and addresses clients dial the API by (comma-separated), for its certificate', (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean))
    .option('--store <url>', 'the controller\'s memory: sqlite (the state folder, default) or etcd://host:port[,host:port...]')
    .option('--id <id>', 'this controller in the leader election (default host:pid)')
    // Loopback unless told, like discovery: opening it to the network is the operator's choice.
    .option('--enroll-listen <host:port>', 'address of the enrollment service (musterd join); 0.0.0.0:7450 for every interface', hostPort, `127.0.0.1:${DEFAULT_ENROLL_PORT}`)
    .addOption(new Option('--enroll-policy <policy>', 'inventory: only inventory nodes join; approve-unknown: others wait for "muster nodes approve"; approve-all: every node waits').choices(['inventory', 'approve-unknown', 'approve-all']).default('inventory'))
    .option('--enroll-san <names>', 'more names and addresses agents dial the enrollment service by (comma-separated), for its certificate', (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean))
    .option('--no-enroll', 'do not run the enrollment service')
    .action(lazy(() => import('./commands/serve.js')));

  const token = program.command('token').description('bootstrap tokens for "musterd join" (stored hashed in the state folder)');
  token
    .command('create')
    .description('make a token and print it with the CA hash and the "musterd join" command to run on the node')
    .option('--node <name>', 'only this node name may join with it')
    .option('--labels <k=v,...>', 'only inventory nodes with all these labels may join with it', labels)
    .addOption(new Option('--ttl <duration>', 'how long it is valid: 90s, 30m, 1h, 2d').argParser(duration).default(3600, '1h'))
    .option('--uses <n>', 'how many joins it allows', positiveInt, 1)
    .option('--controller <host:port>', 'the enrollment address nodes dial, for the printed command', hostPort, `${os.hostname()}:${DEFAULT_ENROLL_PORT}`)
    .action(lazy(() => import('./commands/token.js').then((m) => m.create)));
  token
    .command('list')
    .description('the unexpired tokens: id, scope, uses left, expiry (never the secret)')
    .addOption(outputOption())
    .addOption(jsonOption())
    .action(lazy(() => import('./commands/token.js').then((m) => m.list)));
  token
    .command('delete <id>')
    .description('delete a token (its id, or the whole token)')
    .action(lazy(() => import('./commands/token.js').then((m) => m.remove), ['id']));

  const nodes = program.command('nodes').description('join requests and fleet certificates of nodes');
  nodes
    .command('pending')
    .description('join requests waiting for an operator (the approve-unknown and approve-all policies)')
    .addOption(outputOption())
    .addOption(jsonOption())
    .action(lazy(() => import('./commands/nodes.js').then((m) => m.pending)));
  nodes
    .command('approve <name>')
    .description("sign the waiting node's next join attempt (for the key it asked with)")
    .action(lazy(() => import('./commands/nodes.js').then((m) => m.approve), ['name']));
  nodes
    .command('deny <name>')
    .description("refuse the waiting node's join request")
    .action(lazy(() => import('./commands/nodes.js').then((m) => m.deny), ['name']));
  nodes
    .command('revoke <name>')
    .description('put every fleet certificate issued to the name on the revocation list: the controller and every agent refuse it')
    .action(lazy(() => import('./commands/nodes.js').then((m) => m.revoke), ['name']));

  const ca = program.command('ca').description('the fleet CA');
  ca
    .command('rotate')
    .description('rotate the fleet CA in three steps, each a window of dual trust (docs/security.md)')
    .addArgument(new Argument('<step>', 'start, switch or finish').choices(['start', 'switch', 'finish']))
    .action(lazy(() => import('./commands/ca-rotate.js'), ['step']));

  program
    .command('completion')
    .description('print a completion script: source <(muster completion bash), or zsh')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .action(async (shell: 'bash' | 'zsh') => {
      const { bashCompletion, zshCompletion } = await import('./completion.js');
      io.out((shell === 'bash' ? bashCompletion : zshCompletion)(program).trimEnd());
    });

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
    const e = err as Error & { code?: string; exitCode?: number };
    // commander has printed help, the version or a usage error already.
    if (e.code?.startsWith('commander.')) return e.exitCode === 0 ? EXIT.OK : EXIT.FAILED;
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
