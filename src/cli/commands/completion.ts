// labops completion bash|zsh|fish: the same scripts scripts/gen-docs.ts writes to completions/.
import { Argument, type Command } from 'commander';
import type { Factory } from '../factory.js';
import { helpAfter } from '../help.js';
import { act } from '../action.js';

export function registerCompletion(parent: Command, f: Factory): Command {
  const cmd = parent
    .command('completion')
    .summary('print a shell completion script')
    .description('Print a shell completion script for bash, zsh or fish, generated from the command tree. Host names complete from the inventory.')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish']));
  act(cmd, f, (shell: 'bash' | 'zsh' | 'fish') => ({ shell }), async (f2, o) => {
    const [{ completionScript }, { buildProgram }] = await Promise.all([import('../docs/completions.js'), import('../program.js')]);
    f2.io.stdout.write(completionScript(await buildProgram(f2), o.shell));
  });
  return helpAfter(
    cmd,
    'Install:\n  bash: labops completion bash > /etc/bash_completion.d/labops\n  zsh:  labops completion zsh > "${fpath[1]}/_labops"\n  fish: labops completion fish > ~/.config/fish/completions/labops.fish',
  );
}

/** Hidden hook the completion scripts call for dynamic values; prints nothing on any error. */
export function registerCompleteHook(parent: Command, f: Factory): Command {
  const cmd = parent.command('__complete', { hidden: true }).argument('<what>');
  return act(cmd, f, (what: string) => ({ what }), async (f2, o) => {
    if (o.what !== 'hosts') return;
    try {
      const index = await f2.inventory();
      for (const h of index.hosts) f2.io.out(h.name);
    } catch {
      // completion must never print errors into the shell
    }
  });
}
