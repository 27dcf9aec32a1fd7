// roff man pages generated from the command tree and the exit-code and environment tables.
import type { Command } from 'commander';
import { EXIT_CODES } from '../exit-codes.js';
import { SETTING_DEFS as SETTINGS, OTHER_ENV } from '../../app/settings.js';
import { describeTree, flatten, type CommandInfo } from './tree.js';

function esc(s: string): string {
  return s
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

function pageName(c: CommandInfo): string {
  return ['labops', ...c.path].join('-');
}

function optionsSection(title: string, c: CommandInfo): string[] {
  if (!c.options.length) return [];
  const out = [`.SH ${title}`];
  for (const o of c.options) out.push('.TP', `.B ${esc(o.flags)}`, esc(o.description));
  return out;
}

function page(c: CommandInfo, root: CommandInfo, version: string): string {
  const name = pageName(c);
  const out = [
    `.TH ${name.toUpperCase()} 1 "" "labops ${version}" "labops manual"`,
    '.SH NAME',
    `${esc(name)} \\- ${esc(c.summary)}`,
    '.SH SYNOPSIS',
    `.B ${esc(['labops', ...c.path].join(' '))}`,
    esc(c.usage),
    '.SH DESCRIPTION',
    esc(c.description).split('\n').join('\n.br\n'),
  ];
  if (c.args.length) {
    out.push('.SH ARGUMENTS');
    for (const a of c.args) out.push('.TP', `.I ${esc(a.name)}${a.variadic ? '...' : ''}`, esc(a.description + (a.choices ? ` (${a.choices.join(', ')})` : '')));
  }
  out.push(...optionsSection('OPTIONS', c));
  if (c.subcommands.length) {
    out.push('.SH COMMANDS');
    for (const s of c.subcommands) out.push('.TP', `.B ${esc(['labops', ...s.path].join(' '))}`, `${esc(s.summary)} See \\fB${pageName(s)}\\fR(1).`);
  }
  if (c !== root) out.push(...optionsSection('GLOBAL OPTIONS', root));
  if (c.helpAfter && c !== root) out.push('.SH NOTES', '.nf', esc(c.helpAfter), '.fi');
  if (c === root) {
    out.push('.SH EXIT STATUS');
    for (const r of EXIT_CODES) out.push('.TP', `.B ${r.code}`, esc(r.meaning));
    out.push('.SH ENVIRONMENT');
    for (const s of SETTINGS) for (const e of s.env) out.push('.TP', `.B ${esc(e)}`, esc(`${s.description} (setting ${s.key})`));
    for (const e of OTHER_ENV) out.push('.TP', `.B ${esc(e.name)}`, esc(e.description));
  }
  const seeAlso = [root, ...c.subcommands].filter((x) => x !== c).map((x) => `\\fB${pageName(x)}\\fR(1)`);
  if (seeAlso.length) out.push('.SH SEE ALSO', seeAlso.join(', '));
  return `${out.join('\n')}\n`;
}

/** Every man page as filename -> content. */
export function manPages(program: Command, version: string): Map<string, string> {
  const root = describeTree(program);
  return new Map(flatten(root).map((c) => [`${pageName(c)}.1`, page(c, root, version)]));
}
