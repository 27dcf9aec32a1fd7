// The single executable for the benchmarks: built once per `npm run bench` from this checkout
// (scripts/package.mjs --no-deb) into a temp directory, removed when the process exits.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
let built: string | undefined;

/** The path of a freshly built labops-<version>-linux-x64. */
export function singleExecutable(): string {
  if (built) return built;
  const dir = mkdtempSync(join(tmpdir(), 'labops-bench-exe-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  process.stderr.write('building the single executable (scripts/package.mjs --no-deb) …\n');
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'package.mjs'), '--no-deb', '--out', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/package.mjs --no-deb failed: ${r.stderr}`);
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  built = join(dir, `labops-${version}-linux-x64`);
  return built;
}
