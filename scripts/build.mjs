#!/usr/bin/env node
// Builds dist/: the CLI and everything it lazy-loads, bundled by esbuild into a few ES modules split at the
// dynamic imports. Start-up is dominated by module loading (Node 20 has no compile cache), so one bundle per
// lazy boundary instead of hundreds of files keeps `labops --help` and `labops dhcp-patch` near `node -e ''`.
// Type checking is `npm run typecheck` (tsc), which CI runs too.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: { 'cli/main': 'src/cli/main.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'cli/chunks/[name]-[hash]',
  // Native addons and packages with optional native parts stay in node_modules.
  external: ['better-sqlite3', 'ssh2', 'cpu-features'],
  // CommonJS dependencies inside an ES module bundle need a real require.
  banner: { js: "import { createRequire as __labopsCreateRequire } from 'node:module'; const require = __labopsCreateRequire(import.meta.url);" },
  legalComments: 'none',
  logLevel: 'warning',
});
