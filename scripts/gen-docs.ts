// Generates man/*.1, completions/* and the README's generated tables from the command tree.
// `--check` writes nothing and fails when any generated file is stale (run in CI).
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { buildProgram } from '../src/cli/program.js';
import { createFactory } from '../src/cli/factory.js';
import { IOStreams } from '../src/cli/io/iostreams.js';
import { systemClock } from '../src/core/clock.js';
import { manPages } from '../src/cli/docs/man.js';
import { completionScript } from '../src/cli/docs/completions.js';
import { EXIT_CODES } from '../src/cli/exit-codes.js';
import { SETTING_DEFS as SETTINGS, OTHER_ENV, defaultOf } from '../src/core/config/settings.js';

const check = process.argv.includes('--check');
const root = new URL('..', import.meta.url).pathname;
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const f = createFactory({ io: IOStreams.test(), env: {}, clock: systemClock, signal: new AbortController().signal, globals: () => ({}) });
const program = await buildProgram(f, version);

const files = new Map<string, string>();
for (const [name, text] of manPages(program, version)) files.set(join('man', name), text);
files.set('completions/labops.bash', completionScript(program, 'bash'));
files.set('completions/_labops', completionScript(program, 'zsh'));
files.set('completions/labops.fish', completionScript(program, 'fish'));

function replaceBlock(text: string, name: string, body: string): string {
  const start = `<!-- generated:${name} -->`;
  const end = `<!-- /generated:${name} -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < 0) throw new Error(`README.md lacks the ${start} … ${end} markers`);
  return `${text.slice(0, i + start.length)}\n${body}\n${text.slice(j)}`;
}

const exitTable = ['| code | meaning |', '|---|---|', ...EXIT_CODES.map((r) => `| ${r.code} | ${r.meaning} |`)].join('\n');
const envTable = [
  '| variable | setting | meaning |',
  '|---|---|---|',
  ...SETTINGS.flatMap((s) => s.env.map((e) => `| \`${e}\` | \`${s.key}\` | ${s.description.replace(/\|/g, '\\|')} |`)),
  ...OTHER_ENV.map((e) => `| \`${e.name}\` | | ${e.description} |`),
].join('\n');
const settingsTable = [
  '| key | default | meaning |',
  '|---|---|---|',
  ...SETTINGS.map((s) => `| \`${s.key}\` | ${s.default ? `\`${defaultOf(s, { HOME: '~' }) ?? ''}\`` : ''} | ${s.description.replace(/\|/g, '\\|')} |`),
].join('\n');
const readmePath = 'README.md';
let readme = readFileSync(join(root, readmePath), 'utf8');
readme = replaceBlock(readme, 'exit-codes', exitTable);
readme = replaceBlock(readme, 'environment', envTable);
readme = replaceBlock(readme, 'settings', settingsTable);
files.set(readmePath, readme);

const stale: string[] = [];
for (const [rel, text] of files) {
  const path = join(root, rel);
  const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  if (current === text) continue;
  stale.push(rel);
  if (!check) {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
  }
}
// Pages of commands that no longer exist.
for (const name of existsSync(join(root, 'man')) ? readdirSync(join(root, 'man')) : []) {
  const rel = join('man', name);
  if (files.has(rel)) continue;
  stale.push(`${rel} (obsolete)`);
  if (!check) unlinkSync(join(root, rel));
}
if (check && stale.length) {
  console.error(`generated docs are stale: ${stale.join(', ')}\nrun: npm run docs`);
  process.exit(1);
}
console.error(stale.length ? `${check ? 'stale' : 'updated'}: ${stale.join(', ')}` : 'generated docs are up to date');
