// Help text kept as data so the man pages show exactly what --help shows.
import type { Command } from 'commander';

const AFTER = new WeakMap<Command, string>();

/** Adds text after a command's help (examples, exit codes) and remembers it for the man page. */
export function helpAfter<C extends Command>(cmd: C, text: string): C {
  AFTER.set(cmd, (AFTER.get(cmd) ?? '') + text);
  return cmd.addHelpText('after', `\n${text}`) as C;
}

export function helpAfterText(cmd: Command): string {
  return AFTER.get(cmd) ?? '';
}
