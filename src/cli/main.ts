// Entry point: global options, error -> exit code (the only place), the signal policy, EPIPE.
import { setMaxListeners } from 'node:events';
import { createRequire } from 'node:module';
import { CommanderError } from 'commander';
import { IOStreams } from './io/iostreams.js';
import { createFactory, type GlobalOptions } from './factory.js';
import { buildProgram, collectGlobals } from './program.js';
import { EXIT, exitCodeFor, exitFor } from './exit-codes.js';
import { isLooping, listingOutput } from './action.js';
import { isLabopsError, UsageError } from '../domain/errors.js';
import { systemClock } from '../app/context.js';
import type { Clock } from '../core/clock.js';

// For running the built CLI in process (the labs benchmark runs dist/ without a TypeScript loader).
export { IOStreams };

export function labopsVersion(): string {
  try {
    return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/**
 * The one signal policy. SIGINT cancels whatever runs (cleanup first: remote shells deleted, sockets closed,
 * rows printed) and exits 130. SIGTERM to a command that loops (daemon, orchestrators, consumers) means "stop
 * claiming work": in-flight work finishes or is released within daemon.stop-timeout, then the command exits 0.
 * SIGTERM to a one-shot command cancels it like SIGINT and exits 143. A second signal exits at once.
 */
export class RunSignals {
  /** cancels in-flight work */
  readonly abort = new AbortController();
  /** stop claiming new work */
  readonly stop = new AbortController();
  looping = false;
  by: 'SIGINT' | 'SIGTERM' | undefined;
  /** how long a stopping loop may take before its in-flight work is cancelled too */
  drainMs: () => Promise<number> = async () => 30_000;

  constructor() {
    setMaxListeners(0, this.abort.signal);
    setMaxListeners(0, this.stop.signal);
  }

  /** Returns false for a second signal: the caller exits at once. */
  receive(sig: 'SIGINT' | 'SIGTERM'): boolean {
    if (this.by) return false;
    this.by = sig;
    if (sig === 'SIGTERM' && this.looping) {
      this.stop.abort();
      void this.drainMs().then((ms) => setTimeout(() => this.abort.abort(), ms).unref());
    } else this.abort.abort();
    return true;
  }

  /** The exit code a signal imposes, if any. */
  exitCode(): number | undefined {
    if (this.by === 'SIGINT') return EXIT.interrupted;
    if (this.by === 'SIGTERM' && !this.looping) return EXIT.terminated;
    return undefined;
  }
}

export interface RunContext {
  io: IOStreams;
  env: NodeJS.ProcessEnv;
  clock?: Clock;
  /** signals of the run; main wires SIGINT and SIGTERM into them, tests call receive() */
  signals?: RunSignals;
  /** argv→options tests: actions record their options instead of running */
  capture?: (command: string, options: unknown) => void;
}

/** Runs labops with `args` (without node and script) and returns the exit code. Never calls process.exit. */
export async function run(args: string[], ctx: RunContext): Promise<number> {
  const { io, env } = ctx;
  const signals = ctx.signals ?? new RunSignals();
  let globals: GlobalOptions = {};
  const f = createFactory({ io, env, clock: ctx.clock ?? systemClock, signal: signals.abort.signal, stop: signals.stop.signal, rawArgs: args, globals: () => globals, capture: ctx.capture });
  signals.drainMs = () => f.config().then((cfg) => cfg.value('daemon.stop-timeout'), () => 30_000);
  const program = await buildProgram(f, labopsVersion(), { argv: args });
  program.hook('preAction', (_root, action) => {
    globals = collectGlobals(action) as GlobalOptions;
    io.json = Boolean(globals.json);
    io.quiet = Boolean(globals.quiet);
    io.verbose = Boolean(globals.verbose);
    io.noInput = globals.input === false;
    io.noColor = globals.color === false;
    const out = listingOutput(action);
    if (out) {
      if (out.format === 'json') io.json = true;
      else if (out.format === 'table' || out.format === 'tsv') io.format = out.format;
      io.noHeaders = !out.headers;
      io.wide = out.wide;
    }
    signals.looping = isLooping(action);
  });
  let code: number;
  try {
    await program.parseAsync(args, { from: 'user' });
    code = signals.exitCode() ?? exitFor(f.outcomes);
  } catch (err) {
    code = signals.exitCode() ?? reportError(err, io, globals);
  } finally {
    try {
      await f.close();
    } catch (e) {
      if (globals.verbose) io.error(`labops: while closing: ${(e as Error).message}`);
    }
  }
  return code;
}

function reportError(err: unknown, io: IOStreams, globals: GlobalOptions): number {
  if (err instanceof CommanderError) {
    // help and version exit 0; every parse problem is a usage error (commander already printed it).
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (isLabopsError(err)) {
    io.error(`labops: ${err.message}`);
    if (err.suggestion) io.error(`hint: ${err.suggestion}`);
    if (err instanceof UsageError && err.showUsage) io.error('(add --help for usage)');
    if (globals.verbose && err.stack) io.error(err.stack);
    return exitCodeFor(err);
  }
  const e = err as Error & { name?: string };
  if (e?.name === 'ExitPromptError' || e?.name === 'AbortPromptError') return EXIT.interrupted;
  // Not a labops error: a bug. One line, and the stack only with --verbose.
  io.error(`labops: unexpected error: ${e?.message ?? String(err)}`);
  if (globals.verbose && e?.stack) io.error(e.stack);
  else io.error('hint: run again with --verbose for the stack trace, and report it');
  return EXIT.failed;
}

export async function main(): Promise<void> {
  const io = IOStreams.system();
  const signals = new RunSignals();
  const onSignal = (sig: 'SIGINT' | 'SIGTERM') => {
    if (!signals.receive(sig)) process.exit(sig === 'SIGINT' ? EXIT.interrupted : EXIT.terminated);
    if (sig === 'SIGINT' || !signals.looping) {
      io.error(`${sig === 'SIGINT' ? 'interrupted' : 'terminated'}, cleaning up (${sig === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again to force)`);
      // Cleanup is bounded: whatever is still running after this is abandoned.
      setTimeout(() => process.exit(signals.exitCode()), 5000).unref();
    }
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  // `labops … | head`: the reader went away; that is not an error.
  const onPipeError = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  };
  process.stdout.on('error', onPipeError);
  process.stderr.on('error', onPipeError);
  const code = await run(process.argv.slice(2), { io, env: process.env, signals });
  process.exitCode = code;
  // A leaked handle (a socket a driver forgot) must not keep a finished command alive.
  setTimeout(() => process.exit(code), 200).unref();
}
