#!/usr/bin/env node
// Builds dist/: the CLI and everything it lazy-loads, bundled by esbuild into a few ES modules split at the
// dynamic imports. Start-up is dominated by module loading (Node 20 has no compile cache), so one bundle per
// lazy boundary instead of hundreds of files keeps `labops --help` and `labops dhcp-patch` near `node -e ''`.
// Type checking is `npm run typecheck` (tsc), which CI runs too.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

// fast-xml-parser's own dependencies too: left external they are ~30 small ES modules for the loader to resolve.
const BUNDLED = new Set(['commander', 'zod', 'kysely', 'fast-xml-parser', 'fast-xml-builder', '@nodable/entities', 'is-unsafe', 'path-expression-matcher', 'anynum', 'xml-naming', 'strnum']);

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
  // Only pure ES/TypeScript-friendly packages on the start-up path are bundled; everything else (native
  // addons, CommonJS drivers whose named exports a bundle would change) is loaded from node_modules as is.
  plugins: [
    {
      name: 'bundle-only-listed-packages',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) => {
          if (args.path.startsWith('node:')) return { external: true };
          const pkg = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
          return BUNDLED.has(pkg) ? undefined : { external: true };
        });
      },
    },
  ],
  // commander is CommonJS; inside an ES module bundle it needs a real require for node: built-ins.
  banner: { js: "import { createRequire as __labopsCreateRequire } from 'node:module'; const require = __labopsCreateRequire(import.meta.url);" },
  legalComments: 'none',
  logLevel: 'warning',
});
