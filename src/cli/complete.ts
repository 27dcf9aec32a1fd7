// Completion for every shell from one engine: the shell scripts (docs/completions.ts) hand the words typed so far
// to `labops __complete`, which walks the same command tree the operator runs and answers with candidates:
// subcommands, options, option values, and what the lab knows (inventory hosts, LabStation commands after
// `exec … --`, CML servers, cached labs, reservations).
import type { Command, Option } from 'commander';

export interface Candidate {
  value: string;
  description?: string;
}

/** The lab's names, read by the application layer; each may be empty (no inventory, no store). */
export interface CompletionSources {
  hosts(): Promise<Candidate[]>;
  cmlServers(): Promise<Candidate[]>;
  labs(): Promise<Candidate[]>;
  reservations(): Promise<Candidate[]>;
  labstationCommands(): Candidate[];
  /** flags of a LabStation command (its argv so far) */
  labstationFlags(argv: readonly string[]): Candidate[];
}

export interface Completion {
  candidates: Candidate[];
  /** the shell should complete file names instead */
  files: boolean;
}

const FILE_VALUE = /file|dir|path|template/;

/** Values an option takes that the lab knows, by the option's long name. */
const OPTION_SOURCES: Record<string, keyof Omit<CompletionSources, 'labstationCommands' | 'labstationFlags'>> = {
  '--host': 'hosts',
  '--server': 'cmlServers',
};

const PROBES: Candidate[] = [{ value: 'icmp', description: 'system ping' }, { value: 'tcp:5985', description: 'WinRM HTTP' }, { value: 'tcp:5986', description: 'WinRM HTTPS' }];

/** A command's one-line summary: its own, else the first sentence of its description. */
function summary(c: Command): string {
  const s = c.summary() || c.description().split(/(?<=\.)\s|\n/)[0]!;
  return s.length > 80 ? `${s.slice(0, 79)}…` : s;
}

function options(cmd: Command, root: Command): Option[] {
  const own = cmd.options.filter((o) => !o.hidden);
  return cmd === root ? own : [...own, ...root.options.filter((o) => !o.hidden && !own.some((x) => x.long === o.long))];
}

function findOption(cmd: Command, root: Command, token: string): Option | undefined {
  const name = token.split('=')[0]!;
  return [...cmd.options, ...root.options].find((o) => o.long === name || o.short === name);
}

interface Walk {
  cmd: Command;
  positionals: string[];
  /** words after `--` */
  rest: string[] | undefined;
  /** the option whose value is being typed */
  pending: Option | undefined;
}

/** Where the words typed so far (without the current one) leave us in the command tree. */
function walk(root: Command, done: readonly string[]): Walk {
  const w: Walk = { cmd: root, positionals: [], rest: undefined, pending: undefined };
  for (const token of done) {
    if (w.rest) {
      w.rest.push(token);
      continue;
    }
    if (w.pending) {
      w.pending = undefined;
      continue;
    }
    if (token === '--') {
      w.rest = [];
      continue;
    }
    if (token.startsWith('-') && token.length > 1) {
      const o = findOption(w.cmd, root, token);
      if (o && (o.required || o.optional) && !token.includes('=')) w.pending = o;
      continue;
    }
    const sub = w.cmd.commands.find((c) => c.name() === token);
    if (sub && w.positionals.length === 0) {
      w.cmd = sub;
      continue;
    }
    w.positionals.push(token);
  }
  return w;
}

async function optionValues(o: Option, sources: CompletionSources): Promise<Completion> {
  if (o.argChoices) return { candidates: o.argChoices.map((value) => ({ value })), files: false };
  if (o.long === '--probe') return { candidates: PROBES, files: false };
  const source = o.long ? OPTION_SOURCES[o.long] : undefined;
  if (source) return { candidates: await sources[source](), files: false };
  const valueName = /<([^>]+)>/.exec(o.flags)?.[1] ?? '';
  return { candidates: [], files: FILE_VALUE.test(valueName) };
}

async function positional(w: Walk, sources: CompletionSources): Promise<Candidate[]> {
  const args = w.cmd.registeredArguments;
  const arg = args[Math.min(w.positionals.length, args.length - 1)];
  if (!arg || (w.positionals.length >= args.length && !arg.variadic)) return [];
  if (arg.argChoices) return arg.argChoices.map((value) => ({ value }));
  const typed = new Set(w.positionals.map((p) => p.toLowerCase()));
  switch (arg.name()) {
    case 'host':
    case 'target':
      return (await sources.hosts()).filter((h) => !typed.has(h.value.toLowerCase()));
    case 'reservationId':
      return sources.reservations();
    case 'labId':
      return sources.labs();
    default:
      return [];
  }
}

/** Candidates for the last of `words` (the words after `labops`, the last one being typed, maybe empty). */
export async function complete(root: Command, words: readonly string[], sources: CompletionSources): Promise<Completion> {
  const cur = words.at(-1) ?? '';
  const w = walk(root, words.slice(0, -1));
  const none = (candidates: Candidate[]): Completion => ({ candidates, files: false });
  if (w.pending) return optionValues(w.pending, sources);
  if (w.rest) {
    if (w.cmd.name() !== 'exec') return none([]);
    if (w.rest.length === 0) return none(sources.labstationCommands());
    return none(sources.labstationFlags(w.rest));
  }
  if (cur.startsWith('-')) {
    return none(options(w.cmd, root).flatMap((o) => [o.long, o.short].filter((x): x is string => Boolean(x)).map((value) => ({ value, description: o.description }))));
  }
  const subs = w.cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
  if (subs.length && w.positionals.length === 0) return none(subs.map((c) => ({ value: c.name(), description: summary(c) })));
  const values = await positional(w, sources);
  // `exec host…` without `--`: the LabStation command may follow the hosts
  if (w.cmd.name() === 'exec' && w.positionals.length > 0) values.push(...sources.labstationCommands().filter((c) => !c.value.includes(' ')), { value: '--', description: 'then the LabStation command' });
  return none(values);
}
