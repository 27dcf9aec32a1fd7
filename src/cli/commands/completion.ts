// labops completion bash|zsh|fish: the same scripts scripts/gen-docs.ts writes to completions/.
import { Argument, type Command } from 'commander';
import type { Factory } from '../factory.js';
import { helpAfter } from '../help.js';

export function registerCompletion(parent: Command, f: Factory): Command {
  const cmd = parent
    .command('completion')
    .summary('print a shell completion script')
    .description('Print a shell completion script for bash, zsh or fish, generated from the command tree. Host names complete from the inventory.')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish']))
    .action(async (shell: 'bash' | 'zsh' | 'fish') => {
      const { completionScript } = await import('../docs/completions.js');
      const { buildProgram } = await import('../program.js');
      f.io.stdout.write(completionScript(await buildProgram(f), shell));
    });
  return helpAfter(
    cmd,
    'Install:\n  bash: labops completion bash > /etc/bash_completion.d/labops\n  zsh:  labops completion zsh > "${fpath[1]}/_labops"\n  fish: labops completion fish > ~/.config/fish/completions/labops.fish',
  );
}

/** Hidden hook the completion scripts call for dynamic values; prints nothing on any error. */
export function registerCompleteHook(parent: Command, f: Factory): Command {
  return parent
    .command('__complete', { hidden: true })
    .argument('<what>')
    .action(async (what: string) => {
      if (what !== 'hosts') return;
      try {
        const index = await f.inventory();
        for (const h of index.hosts) f.io.out(h.name);
      } catch {
        // completion must never print errors into the shell
      }
    });
}
