// The anatomy every command follows: commander's arguments → a validated options object → one application
// call → render → the outcomes main turns into the exit code (exitFor). Commands differ only in those parts.
import { Option, type Command } from 'commander';
import type { Factory } from './factory.js';
import type { Outcome } from '../domain/outcome.js';

/** Commands that run until stopped: SIGTERM asks them to stop claiming work and finish (exit 0). */
const LOOPING = new WeakSet<Command>();

/** Marks a command as a loop (daemon, orchestrators, consumers, the simulator) for main's signal policy. */
export function looping<C extends Command>(cmd: C): C {
  LOOPING.add(cmd);
  return cmd;
}

export function isLooping(cmd: Command): boolean {
  return LOOPING.has(cmd);
}

/** Commands that print a table: they take --format, --no-headers and --wide. */
const LISTING = new WeakSet<Command>();

/**
 * Marks a command whose result is a table and gives it the output options every listing command has. `extra`
 * formats (e.g. `labs list`'s api and lab-record) come after table, tsv and json.
 */
export function listing<C extends Command>(cmd: C, extra: readonly string[] = []): C {
  LISTING.add(cmd);
  cmd
    .addOption(new Option('--format <format>', `table (the default on a terminal), tsv (the default when piped, no header) or json (same as --json)${extra.length ? `, or ${extra.join(', ')}` : ''}`).choices(['table', 'tsv', 'json', ...extra]))
    .option('--no-headers', 'a table without its header row')
    .option('--wide', 'a table at its full width: nothing cut or left out to fit the terminal');
  return cmd;
}

/** The output options of a listing command, for main to apply before its action runs. */
export function listingOutput(cmd: Command): { format?: string; headers: boolean; wide: boolean } | undefined {
  if (!LISTING.has(cmd)) return undefined;
  const o = cmd.opts() as { format?: string; headers?: boolean; wide?: boolean };
  return { format: o.format, headers: o.headers !== false, wide: Boolean(o.wide) };
}

/**
 * The former spelling of a renamed option (one meaning per flag name across commands): still accepted, hidden from
 * help, with a warning that names the new one.
 */
export function formerly<C extends Command>(cmd: C, flags: string, now: string, parse?: (v: string) => unknown): C {
  const o = new Option(flags, `former spelling of ${now}`).hideHelp();
  if (parse) o.argParser(parse);
  return cmd.addOption(o) as C;
}

/** The value of a renamed option: the new spelling, else the former one (with a warning). */
export function renamed<T>(f: Factory, now: { flag: string; value: T | undefined }, former: { flag: string; value: T | undefined }): T | undefined {
  if (former.value === undefined) return now.value;
  f.io.warn(`${former.flag} is now ${now.flag}; the old spelling still works for now`);
  return now.value ?? former.value;
}

/** The command's path below the program, e.g. "heartbeat poll". */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Wires a command's action: `options` turns commander's arguments into the validated options (throwing a
 * UsageError for bad input), `run` does the one application call and the rendering and returns the outcomes.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function act<O>(cmd: Command, f: Factory, options: (...args: any[]) => O, run: (f: Factory, o: O) => Promise<readonly Outcome[] | void>): Command {
  return cmd.action(async (...args: unknown[]) => {
    // commander passes the declared arguments, then the options object, then the command
    const o = options(...args.slice(0, -1));
    if (f.capture) return f.capture(commandPath(cmd), o);
    f.outcomes = (await run(f, o)) ?? [];
  });
}
