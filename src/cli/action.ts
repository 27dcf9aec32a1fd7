// The anatomy every command follows: commander's arguments → a validated options object → one application
// call → render → the outcomes main turns into the exit code (exitFor). Commands differ only in those parts.
import type { Command } from 'commander';
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
