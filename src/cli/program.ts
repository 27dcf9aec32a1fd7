// buildProgram(factory): pure construction of the command tree. Building has no side effects, so
// scripts/gen-docs.ts and `labops completion` walk the same tree the operator runs.
import { Command, Option } from 'commander';
import type { Factory } from './factory.js';
import { EXIT_CODES } from './exit-codes.js';
import { helpAfter } from './help.js';
import { registerWol } from './commands/wol.js';
import { registerExec } from './commands/exec.js';
import { registerConfig } from './commands/config.js';
import { registerDb } from './commands/db.js';
import { registerSim } from './commands/sim.js';
import { registerHeartbeat } from './commands/heartbeat.js';
import { registerProvision } from './commands/provision.js';
import { registerServers } from './commands/servers.js';
import { registerLabs } from './commands/labs.js';
import { registerReserve } from './commands/reserve.js';
import { registerDaemon } from './commands/daemon.js';
import { registerCompleteHook, registerCompletion } from './commands/completion.js';
import { registerDoctor } from './commands/doctor.js';
import { registerDhcpPatch } from './commands/dhcp-patch.js';
import { registerProvisionHosts } from './commands/provision-hosts.js';
import { registerDc } from './commands/dc.js';
import { registerMacctRepair } from './commands/macct-repair.js';

export const GLOBAL_HELP_FOOTER = [
  'Exit codes:',
  ...EXIT_CODES.map((r) => `  ${String(r.code).padStart(3)}  ${r.meaning}`),
  '',
  'Run `man labops` or `labops <command> --help` for details. Environment variables: see `labops config show`.',
].join('\n');

export function buildProgram(f: Factory, version = '0.0.0'): Command {
  const program = new Command('labops')
    // Root options are read before the subcommand; the same options are copied onto every command
    // (below) so `labops wol --all --json` works too, and `sim --hosts <n>` keeps its own meaning.
    .enablePositionalOptions()
    .description('Run a fleet of lab machines: Wake-on-LAN, WinRM, heartbeats, reservations, SSH provisioning, DC files, CML labs')
    .version(version, '--version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .addOption(new Option('--config <file>', 'config file (default $XDG_CONFIG_HOME/labops/config.json)').env('LABOPS_CONFIG'))
    .option('--hosts <file>', 'host inventory in the seed hosts.json format (env OPS_CONFIG)')
    .option('--db <url>', 'database URL: sqlite:<path> or mysql://… (env LABOPS_DB, MYSQL_DSN)')
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

  registerWol(program, f);
  registerExec(program, f);
  registerHeartbeat(program, f);
  registerReserve(program, f);
  registerProvision(program, f);
  registerProvisionHosts(program.commands.find((c) => c.name() === 'provision') ?? program.command('provision').summary('provision lab sessions and DC hosts'), f);
  registerServers(program, f);
  registerLabs(program, f);
  registerDhcpPatch(program, f);
  registerDc(program, f);
  registerMacctRepair(program, f);
  registerDaemon(program, f);
  registerSim(program, f);
  registerDb(program, f);
  registerConfig(program, f);
  registerDoctor(program, f);
  registerCompletion(program, f);
  registerCompleteHook(program, f);
  copyGlobalOptionsOnDispatch(program, program);
  return program;
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
