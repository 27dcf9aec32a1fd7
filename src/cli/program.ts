// buildProgram(factory): pure construction of the command tree. Building has no side effects, so
// scripts/gen-docs.ts and `labops completion` walk the same tree the operator runs.
import { Command, Option } from 'commander';
import type { Factory } from './factory.js';
import { EXIT_CODES } from './exit-codes.js';
import { helpAfter } from './help.js';

type Register = (parent: Command, f: Factory) => unknown;

/**
 * The top-level commands in help order. Each group's module is imported only when it is needed, so
 * `labops <command>` parses one group and root help needs none (the summaries here stand in for them;
 * a unit test keeps them equal to the real ones).
 */
export const COMMAND_GROUPS: readonly { name: string; summary: string; hidden?: boolean; load: () => Promise<Register> }[] = [
  { name: 'wol', summary: 'wake hosts with magic packets and wait until they answer', load: async () => (await import('./commands/wol.js')).registerWol },
  { name: 'exec', summary: 'run a LabStation.exe command on hosts over WinRM', load: async () => (await import('./commands/exec.js')).registerExec },
  { name: 'heartbeat', summary: 'read, store and watch Lab Station heartbeats', load: async () => (await import('./commands/heartbeat.js')).registerHeartbeat },
  { name: 'reserve', summary: 'start and end lab reservations, show their journal, run the orchestrator', load: async () => (await import('./commands/reserve.js')).registerReserve },
  {
    name: 'provision',
    summary: 'provision lab sessions and hosts',
    load: async () => {
      const [{ registerProvision }, { registerProvisionHosts }] = await Promise.all([import('./commands/provision.js'), import('./commands/provision-hosts.js')]);
      return (parent, f) => registerProvisionHosts(registerProvision(parent, f), f);
    },
  },
  { name: 'servers', summary: 'check the collector servers over SSH', load: async () => (await import('./commands/servers.js')).registerServers },
  { name: 'labs', summary: 'cache Cisco Modeling Labs (CML) labs and their change history', load: async () => (await import('./commands/labs.js')).registerLabs },
  { name: 'dhcp-patch', summary: "point LINBO Docker's PXE hosts at its TFTP server (the device-import hook)", load: async () => (await import('./commands/dhcp-patch.js')).registerDhcpPatch },
  { name: 'dc', summary: 'the LINBO Docker DC side: job consumer, setup, checks', load: async () => (await import('./commands/dc.js')).registerDc },
  {
    name: 'macct-repair',
    summary: "restore computers' machine-account passwords in sam.ldb from the image's .macct file",
    load: async () => (await import('./commands/macct-repair.js')).registerMacctRepair,
  },
  {
    name: 'daemon',
    summary: 'run every loop (heartbeat, reservations, provisioning, cleanup, servers, labs, DC jobs) and the ops-worker API',
    load: async () => (await import('./commands/daemon.js')).registerDaemon,
  },
  { name: 'sim', summary: 'run simulated Lab Stations on loopback for demos, tests and benchmarks', load: async () => (await import('./commands/sim.js')).registerSim },
  { name: 'db', summary: 'create and inspect the labops tables', load: async () => (await import('./commands/db.js')).registerDb },
  { name: 'config', summary: 'inspect the effective configuration', load: async () => (await import('./commands/config.js')).registerConfig },
  { name: 'doctor', summary: 'check config, inventory, database, peers, hosts and DC files (read-only)', load: async () => (await import('./commands/doctor.js')).registerDoctor },
  { name: 'completion', summary: 'print a shell completion script', load: async () => (await import('./commands/completion.js')).registerCompletion },
  { name: '__complete', summary: '', hidden: true, load: async () => (await import('./commands/completion.js')).registerCompleteHook },
];

export const GLOBAL_HELP_FOOTER = [
  'Exit codes:',
  ...EXIT_CODES.map((r) => `  ${String(r.code).padStart(3)}  ${r.meaning}`),
  '',
  'Run `man labops` or `labops <command> --help` for details. Environment variables: see `labops config show`.',
].join('\n');

/**
 * Builds the command tree. Without `argv` every command is registered (docs, completion scripts); with the
 * command line about to be parsed, only the group it names is, or, when it names none (root help,
 * --version), summary-only stand-ins for root help to list.
 */
export async function buildProgram(f: Factory, version = '0.0.0', opts: { argv?: readonly string[] } = {}): Promise<Command> {
  const program = new Command('labops')
    // Root options are read before the subcommand; the same options are copied onto every command
    // (below) so `labops wol --all --json` works too, and a command's own option of the same name (e.g. provision hosts' former --config) wins.
    .enablePositionalOptions()
    .description('Run a fleet of lab machines: Wake-on-LAN, WinRM, heartbeats, reservations, SSH provisioning, DC files, CML labs')
    .version(version, '--version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .addOption(new Option('--config <file>', 'config file (default $XDG_CONFIG_HOME/labops/config.json, else /etc/labops/config.json)').env('LABOPS_CONFIG'))
    .option('--hosts <file>', 'host inventory in the seed hosts.json format (env OPS_CONFIG)')
    .option('--db <url>', 'database URL: sqlite:<path> or mysql://… (env LABOPS_DB, MYSQL_DSN)')
    .option('--db-password-file <file>', 'file holding the database password, kept out of the URL (env LABOPS_DB_PASSWORD_FILE)')
    .option('--json', 'print one JSON document on stdout and nothing else')
    .option('--no-color', 'disable colour (also NO_COLOR)')
    .option('--no-input', 'never prompt; fail instead of asking')
    .option('-y, --yes', 'confirm destructive actions without asking')
    .option('-v, --verbose', 'more detail on stderr, stack traces on errors')
    .option('-q, --quiet', 'only results and errors')
    .showHelpAfterError('(add --help for usage)')
    .showSuggestionAfterError(true)
    // Set before any subcommand exists: subcommands copy these settings when they are created.
    .exitOverride()
    .configureOutput({
      writeOut: (s) => f.io.stdout.write(s),
      writeErr: (s) => f.io.stderr.write(s),
      outputError: (s, write) => write(s.startsWith('error:') ? `labops: ${s}` : s),
    });
  helpAfter(program, GLOBAL_HELP_FOOTER);
  // Every subcommand's help lists the global options too (gh's INHERITED FLAGS); root help has them as its own.
  program.addHelpText('afterAll', (ctx) => (ctx.command === program ? '' : `\n${inheritedOptionsHelp(program)}`));

  const named = opts.argv ? commandNamed(program, opts.argv) : undefined;
  if (opts.argv && named === null) {
    for (const g of COMMAND_GROUPS) program.addCommand(new Command(g.name).summary(g.summary), { hidden: g.hidden });
  } else {
    const groups = named ? COMMAND_GROUPS.filter((g) => g.name === named) : COMMAND_GROUPS;
    const registers = await Promise.all(groups.map((g) => g.load()));
    for (const register of registers) register(program, f);
  }
  // Root help lists command names only: the stand-ins have no arguments to show, and nested groups keep theirs.
  program.configureHelp({ subcommandTerm: (c) => c.name() });
  copyGlobalOptionsOnDispatch(program, program);
  return program;
}

/** The global options as a help section, laid out by commander's own help formatter. */
export function inheritedOptionsHelp(program: Command): string {
  const help = program.createHelp();
  const options = program.options.filter((o) => !o.hidden && o.long !== '--version' && o.long !== '--help');
  const width = Math.max(...options.map((o) => help.optionTerm(o).length));
  const lines = options.map((o) => help.formatItem(help.optionTerm(o), width, help.optionDescription(o), help));
  return `Global options (before or after the command):\n${lines.join('\n')}\n`;
}

/**
 * The top-level command the arguments name: its name, null when they name none, undefined when the first
 * word is not a known command (then everything is registered, for commander's suggestions and `help`).
 */
function commandNamed(program: Command, argv: readonly string[]): string | null | undefined {
  const takesValue = new Set(program.options.filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short].filter((x): x is string => Boolean(x))));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return argv[i + 1] === undefined ? null : undefined;
    if (a.startsWith('-')) {
      if (takesValue.has(a)) i++;
      continue;
    }
    return COMMAND_GROUPS.some((g) => g.name === a) ? a : undefined;
  }
  return null;
}

const GLOBAL_COPIES = new WeakSet<Option>();

/**
 * Gives each command on the path being run hidden copies of the global options, just before commander hands
 * it the rest of the command line. Done on dispatch rather than for the whole tree, so start-up does not
 * build hundreds of options nobody uses.
 */
function copyGlobalOptionsOnDispatch(root: Command, cmd: Command): void {
  cmd.hook('preSubcommand', (_parent, sub) => {
    const globals = root.options.filter((o) => o.long !== '--version' && o.long !== '--help');
    for (const g of globals) {
      if (sub.options.some((o) => o.long === g.long || (g.short && o.short === g.short))) continue;
      const copy = new Option(g.flags, g.description).hideHelp();
      GLOBAL_COPIES.add(copy);
      sub.addOption(copy);
    }
    copyGlobalOptionsOnDispatch(root, sub);
  });
}

/**
 * The global options of a run: the root's values, overridden by copies given on the command line
 * after a subcommand. Defaults never override an explicit value.
 */
export function collectGlobals(leaf: Command): Record<string, unknown> {
  const chain: Command[] = [];
  for (let c: Command | null = leaf; c; c = c.parent) chain.unshift(c);
  const root = chain[0]!;
  const out: Record<string, unknown> = { ...root.opts() };
  for (const cmd of chain.slice(1)) {
    for (const o of cmd.options) {
      if (!GLOBAL_COPIES.has(o)) continue;
      const key = o.attributeName();
      const source = cmd.getOptionValueSource(key);
      if (source === 'cli' || source === 'env') out[key] = cmd.getOptionValue(key);
    }
  }
  return out;
}
