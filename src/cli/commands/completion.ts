// labops completion bash|zsh|fish: the same scripts scripts/gen-docs.ts writes to completions/.
import { Argument, type Command } from 'commander';
import type { Factory } from '../factory.js';
import { helpAfter } from '../help.js';
import { act } from '../action.js';

export function registerCompletion(parent: Command, f: Factory): Command {
  const cmd = parent
    .command('completion')
    .summary('print a shell completion script')
    .description('Print a shell completion script for bash, zsh or fish. Candidates come from the command tree and the lab: inventory hosts, LabStation commands, CML servers, labs and reservations.')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish']));
  act(cmd, f, (shell: 'bash' | 'zsh' | 'fish') => ({ shell }), async (f2, o) => {
    const [{ completionScript }, { buildProgram }] = await Promise.all([import('../docs/completions.js'), import('../program.js')]);
    f2.io.stdout.write(completionScript(await buildProgram(f2), o.shell));
  });
  return helpAfter(
    cmd,
    'Install (the Debian package installs all three):\n' +
      '  bash: labops completion bash > /usr/share/bash-completion/completions/labops\n' +
      '  zsh:  labops completion zsh > /usr/share/zsh/vendor-completions/_labops   (or any $fpath directory, before compinit)\n' +
      '  fish: labops completion fish > ~/.config/fish/completions/labops.fish\n\n' +
      'Completes commands, options, option values, inventory host names, LabStation commands after `exec … --`, CML server\n' +
      'ids, cached lab ids and reservation ids: each TAB asks `labops __complete`, which reads the lab and prints nothing on error.',
  );
}

/**
 * Hidden hook the completion scripts call with the words typed so far (after `--`, the last one being completed):
 * prints one candidate per line (`value<TAB>description`), or `:files` when file names fit. Prints nothing on any
 * error: completion must never write errors into the shell.
 */
export function registerCompleteHook(parent: Command, f: Factory): Command {
  const cmd = parent.command('__complete', { hidden: true }).argument('[words...]').allowUnknownOption();
  return act(cmd, f, (words: string[]) => ({ words }), async (f2, o) => {
    try {
      const [{ complete }, { buildProgram }, app, { labstationNextWords }] = await Promise.all([
        import('../complete.js'),
        import('../program.js'),
        import('../../app/completion.js'),
        import('../../domain/labstation-commands.js'),
      ]);
      const words = o.words.length ? o.words : [''];
      const r = await complete(await buildProgram(f2), words, {
        hosts: () => app.completionHosts(f2),
        cmlServers: () => app.completionCmlServers(f2),
        labs: () => app.completionLabs(f2),
        reservations: () => app.completionReservations(f2),
        labstationCommands: () => labstationNextWords([]),
        labstationFlags: (argv) => labstationNextWords(argv),
      });
      const cur = words.at(-1) ?? '';
      if (r.files) f2.io.out(':files');
      const lines = r.candidates.filter((c) => c.value.startsWith(cur)).map((c) => (c.description ? `${c.value}\t${c.description.replace(/[\t\n]/g, ' ')}` : c.value));
      if (lines.length) f2.io.out(lines.join('\n'));
    } catch {
      // nothing: a broken config or inventory must not print into the shell
    }
  });
}
