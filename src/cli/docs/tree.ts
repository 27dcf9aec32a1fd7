// A plain description of the commander tree, shared by the man page and completion generators.
import type { Command, Option } from 'commander';
import { helpAfterText } from '../help.js';

export interface OptionInfo {
  flags: string;
  long?: string;
  short?: string;
  description: string;
  takesValue: boolean;
  valueName?: string;
  choices?: readonly string[];
}

export interface CommandInfo {
  /** words after `labops`, e.g. ['db', 'migrate'] */
  path: string[];
  name: string;
  summary: string;
  description: string;
  usage: string;
  options: OptionInfo[];
  args: { name: string; description: string; variadic: boolean; required: boolean; choices?: readonly string[] }[];
  subcommands: CommandInfo[];
  helpAfter: string;
}

function optionInfo(o: Option): OptionInfo {
  const valueName = /<([^>]+)>|\[([^\]]+)\]/.exec(o.flags);
  return {
    flags: o.flags,
    long: o.long ?? undefined,
    short: o.short ?? undefined,
    description: o.description,
    takesValue: Boolean(o.required || o.optional),
    valueName: valueName ? (valueName[1] ?? valueName[2]) : undefined,
    choices: o.argChoices,
  };
}

export function describeTree(cmd: Command, path: string[] = []): CommandInfo {
  const visible = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
  const helpAfter = helpAfterText(cmd);
  return {
    path,
    name: cmd.name(),
    summary: cmd.summary() || cmd.description().split('\n')[0]!,
    description: cmd.description(),
    usage: cmd.usage(),
    options: cmd.options.filter((o) => !o.hidden).map(optionInfo),
    args: cmd.registeredArguments.map((a) => ({ name: a.name(), description: a.description, variadic: a.variadic, required: a.required, choices: a.argChoices })),
    subcommands: visible.map((c) => describeTree(c, [...path, c.name()])),
    helpAfter,
  };
}

export function flatten(info: CommandInfo): CommandInfo[] {
  return [info, ...info.subcommands.flatMap(flatten)];
}
