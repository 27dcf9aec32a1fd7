// The command that runs this labops again, by absolute paths: what `labops dc setup` writes into the hook and the
// unit, so they work whatever PATH import-devices, cron or systemd give them.
import { resolve } from 'node:path';

/** The single executable itself, or Node with the CLI script it was started with. */
export async function labopsSelfCommand(): Promise<string[]> {
  // node:sea exists from Node 20.12; an older Node is never a single executable
  const inSea = await import('node:sea').then((sea) => sea.isSea()).catch(() => false);
  if (inSea) return [process.execPath];
  return process.argv[1] ? [process.execPath, resolve(process.argv[1])] : [process.execPath];
}
