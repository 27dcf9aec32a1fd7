// POSIX shell quoting for remote commands. sshd hands the command string to the login shell, so every
// argument is wrapped in single quotes; a single quote inside becomes '\'' (close, escaped quote, reopen).

/** Quotes one argument for a POSIX shell. Plain words stay readable; anything else is single-quoted. */
export function shQuote(arg: string): string {
  if (arg.includes('\0')) throw new Error('a shell argument cannot contain a NUL byte');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Joins an argv into one command line the remote shell splits back into exactly these words. */
export function shJoin(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('empty command');
  return argv.map(shQuote).join(' ');
}
