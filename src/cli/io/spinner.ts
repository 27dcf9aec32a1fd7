// A spinner on stderr, only when progress is enabled (both streams TTYs of a known width, TERM not dumb, no --json,
// no --quiet); without colour under NO_COLOR and --no-color.
import type { IOStreams } from './iostreams.js';

export interface Progress {
  update(text: string): void;
  stop(): void;
}

const NOOP: Progress = { update() {}, stop() {} };

export async function startProgress(io: IOStreams, text: string): Promise<Progress> {
  if (!io.progressEnabled) return NOOP;
  const { default: ora } = await import('ora');
  const spinner = ora({ text, stream: io.stderr as NodeJS.WritableStream, isEnabled: true, discardStdin: false, color: io.colorEnabledStderr ? 'cyan' : false }).start();
  return {
    update: (t) => {
      spinner.text = t;
    },
    stop: () => spinner.stop(),
  };
}
