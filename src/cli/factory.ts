// The command layer's view of a run: the application context (src/app/context.ts) plus what only a terminal
// has: the streams, the global options, prompts and confirmations. Nothing heavy is imported here.
import type { IOStreams } from './io/iostreams.js';
import type { Clock } from '../core/clock.js';
import { createContext, type AppContext, type OwnedContext } from '../app/context.js';
import type { Outcome } from '../domain/outcome.js';

export interface GlobalOptions {
  config?: string;
  hosts?: string;
  db?: string;
  dbPasswordFile?: string;
  json?: boolean;
  color?: boolean;
  input?: boolean;
  yes?: boolean;
  verbose?: boolean;
  quiet?: boolean;
}

export interface Factory extends AppContext {
  /** the context itself, for use cases that reload it (the daemon on SIGHUP) */
  readonly context: OwnedContext;
  readonly io: IOStreams;
  /** the command line as given (after the program name); `exec` finds its `--` here */
  readonly rawArgs: readonly string[];
  globals(): GlobalOptions;
  /** Asks for confirmation on a TTY; without one, --yes is required (a usage error otherwise). */
  confirm(question: string): Promise<boolean>;
  /** The outcomes of the command that ran (one per target); main turns them into the exit code. */
  outcomes: readonly Outcome[];
  /** Set by argv→options tests: an action records its validated options here instead of running. */
  capture?: (command: string, options: unknown) => void;
}

export interface FactoryInit {
  io: IOStreams;
  env: NodeJS.ProcessEnv;
  clock: Clock;
  signal: AbortSignal;
  stop?: AbortSignal;
  rawArgs?: readonly string[];
  globals: () => GlobalOptions;
  capture?: (command: string, options: unknown) => void;
}

export function createFactory(init: FactoryInit): Factory & { close(): Promise<void>; context: OwnedContext } {
  const context = createContext({
    env: init.env,
    clock: init.clock,
    signal: init.signal,
    stop: init.stop,
    locations: () => init.globals(),
    warn: (m) => init.io.warn(m),
    verbose: () => Boolean(init.globals().verbose),
  });
  const f: Factory & { close(): Promise<void>; context: OwnedContext } = {
    ...context,
    context,
    io: init.io,
    rawArgs: init.rawArgs ?? [],
    globals: init.globals,
    outcomes: [],
    capture: init.capture,
    async confirm(question) {
      if (init.globals().yes) return true;
      if (!init.io.canPrompt()) {
        const { UsageError } = await import('../domain/errors.js');
        throw new UsageError(`${question}: --yes required when not running interactively`);
      }
      const { confirm } = await import('@inquirer/prompts');
      return confirm({ message: question, default: false }, { input: init.io.stdin, output: init.io.stdout });
    },
    close: () => context.close(),
  };
  return f;
}
