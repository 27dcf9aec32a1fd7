// The command tree is registered lazily: the group being run, or summary-only stand-ins for root help.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { buildProgram, COMMAND_GROUPS } from '../../src/cli/program.js';
import { createFactory } from '../../src/cli/factory.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';
import { systemClock } from '../../src/core/clock.js';

const factory = () => createFactory({ io: IOStreams.test(), env: {}, clock: systemClock, signal: new AbortController().signal, globals: () => ({}) });
const names = (p: Command) => p.commands.map((c) => c.name());
const full = (c: Command) => c.commands.length > 0 || c.options.length > 0 || c.registeredArguments.length > 0;

test('the stand-ins say what the real commands say, in the same order', async () => {
  const real = await buildProgram(factory());
  assert.deepEqual(
    real.commands.map((c) => ({ name: c.name(), summary: c.summary(), hidden: Boolean((c as unknown as { _hidden: boolean })._hidden) })),
    COMMAND_GROUPS.map((g) => ({ name: g.name, summary: g.summary, hidden: Boolean(g.hidden) })),
  );
});

test('a command line builds only the group it names, wherever the global options are', async () => {
  for (const argv of [['wol', '--help'], ['--json', 'wol', 'pc01'], ['--hosts', 'h.json', '--db', 'sqlite:x', 'wol'], ['-y', '--config', 'c.json', 'wol']]) {
    const p = await buildProgram(factory(), '1', { argv });
    assert.deepEqual(names(p), ['wol'], argv.join(' '));
    assert.ok(full(p.commands[0]!), 'the real wol command');
  }
  const prov = await buildProgram(factory(), '1', { argv: ['provision', 'hosts', 'create', 'pc01'] });
  assert.deepEqual(prov.commands[0]!.commands.map((c) => c.name()), ['sessions', 'cleanup', 'hosts'], 'both modules of the provision group');
});

test('root help and --version get stand-ins; an unknown word gets the whole tree', async () => {
  for (const argv of [[], ['--help'], ['--version'], ['--hosts', 'wol']]) {
    const p = await buildProgram(factory(), '1', { argv });
    assert.deepEqual(names(p), COMMAND_GROUPS.map((g) => g.name), argv.join(' '));
    assert.ok(!p.commands.some(full), 'summaries only');
  }
  for (const argv of [['wlo'], ['help', 'wol']]) {
    const p = await buildProgram(factory(), '1', { argv });
    assert.ok(p.commands.filter((c) => c.name() !== '__complete').every(full), `${argv.join(' ')}: every command registered`);
  }
});
