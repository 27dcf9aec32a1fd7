// Entry point: global options, error -> exit code (the only place), SIGINT, EPIPE.
import { setMaxListeners } from 'node:events';
import { createRequire } from 'node:module';
import { CommanderError } from 'commander';
import { IOStreams } from './io/iostreams.js';
import { createFactory, type GlobalOptions } from './factory.js';
import { buildProgram, collectGlobals } from './program.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { isLabopsError, UsageError } from '../domain/errors.js';
import { systemClock, type Clock } from '../core/clock.js';

// For running the built CLI in process (the labs benchmark runs dist/ without a TypeScript loader).
export { IOStreams };

export function labopsVersion(): string {
  try {
    return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

export interface RunContext {
  io: IOStreams;
  env: NodeJS.ProcessEnv;
  clock?: Clock;
  /** external abort (tests); main wires SIGINT into it */
  controller?: AbortController;
}

/** Runs labops with `args` (without node and script) and returns the exit code. Never calls process.exit. */
export async function run(args: string[], ctx: RunContext): Promise<number> {
  const { io, env } = ctx;
  const controller = ctx.controller ?? new AbortController();
  // One signal is shared by every concurrent host operation of a run.
  setMaxListeners(0, controller.signal);
  let globals: GlobalOptions = {};
  const f = createFactory({ io, env, clock: ctx.clock ?? systemClock, signal: controller.signal, rawArgs: args, globals: () => globals });
  const program = await buildProgram(f, labopsVersion(), { argv: args });
  program.hook('preAction', (_root, action) => {
      globals = collectGlobals(action) as GlobalOptions;
      io.json = Boolean(globals.json);
      io.quiet = Boolean(globals.quiet);
      io.verbose = Boolean(globals.verbose);
      io.noInput = globals.input === false;
      io.noColor = globals.color === false;
    });
  let code: number;
  try {
    await program.parseAsync(args, { from: 'user' });
    code = controller.signal.aborted ? EXIT.interrupted : EXIT.ok;
  } catch (err) {
    code = reportError(err, io, globals, controller.signal.aborted);
  } finally {
    try {
      await f.close();
    } catch (e) {
      if (globals.verbose) io.error(`labops: while closing: ${(e as Error).message}`);
    }
  }
  return code;
}

function reportError(err: unknown, io: IOStreams, globals: GlobalOptions, aborted: boolean): number {
  if (err instanceof CommanderError) {
    // help and version exit 0; every parse problem is a usage error (commander already printed it).
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (aborted) {
    return EXIT.interrupted;
  }
  if (isLabopsError(err)) {
    if (err.kind === 'silent') return exitCodeFor(err);
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
  const controller = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT.interrupted);
    io.error('interrupted, cleaning up (Ctrl-C again to force)');
    controller.abort();
    // Cleanup is bounded: whatever is still running after this is abandoned.
    setTimeout(() => process.exit(EXIT.interrupted), 5000).unref();
  });
  // `labops … | head`: the reader went away; that is not an error.
  const onPipeError = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  };
  process.stdout.on('error', onPipeError);
  process.stderr.on('error', onPipeError);
  const code = await run(process.argv.slice(2), { io, env: process.env, controller });
  process.exitCode = code;
  // A leaked handle (a socket a driver forgot) must not keep a finished command alive.
  setTimeout(() => process.exit(code), 200).unref();
}
