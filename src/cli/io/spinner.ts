// A spinner on stderr, only when progress is enabled (both streams TTYs, no --json, no --quiet).
import type { IOStreams } from './iostreams.js';

export interface Progress {
  update(text: string): void;
  stop(): void;
}

const NOOP: Progress = { update() {}, stop() {} };

export async function startProgress(io: IOStreams, text: string): Promise<Progress> {
  if (!io.progressEnabled) return NOOP;
  const { default: ora } = await import('ora');
  const spinner = ora({ text, stream: io.stderr as NodeJS.WritableStream, isEnabled: true, discardStdin: false }).start();
  return {
    update: (t) => {
      spinner.text = t;
    },
    stop: () => spinner.stop(),
  };
}
