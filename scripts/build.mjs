#!/usr/bin/env node
// Builds dist/: the CLI and everything it lazy-loads, bundled by esbuild into a few ES modules split at the
// dynamic imports. Start-up is dominated by module loading (Node 20 has no compile cache), so one bundle per
// lazy boundary instead of hundreds of files keeps `labops --help` near `node -e ''`.
// Plus dist/cli/hook.js: `labops dhcp-patch` (the device-import hook, run on every import) as ONE module, which
// bin/labops.js loads for that command; see HOOK below. Type checking is `npm run typecheck` (tsc), which CI runs too.
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';

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

// The hook bundle: the same CLI (src/cli/main.ts, same run(), same dhcp-patch command) without code splitting.
// Each extra ES module costs Node 20 about 0.4 ms to resolve, read, compile and link, and the split build loads ~20
// for dhcp-patch. What the command never reaches is replaced by a module that throws: the other command groups,
// and the factory's config, inventory, database and prompt loaders (dhcp-patch reads only its own KEY=VALUE file).
// Everything else, npm packages included, is inlined and initialised only when first imported.
const NOT_IN_HOOK = [/^\.\/commands\/(?!dhcp-patch\.js$)/, /^\.\.\/core\/config\/(load|inventory)\.js$/, /^\.\.\/core\/db\/database\.js$/, /^@inquirer\/prompts$/];
const HOOK_ENTRY = 'dist/cli/hook.js';
await build({
  entryPoints: { 'cli/hook': 'src/cli/main.ts' },
  outdir: 'dist',
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  plugins: [
    {
      name: 'hook-bundle',
      setup(b) {
        b.onResolve({ filter: /.*/ }, (args) => {
          if (args.kind === 'entry-point') return undefined;
          if (args.path.startsWith('node:')) return { external: true };
          if (NOT_IN_HOOK.some((re) => re.test(args.path))) return { path: args.path, namespace: 'not-in-hook' };
          return undefined;
        });
        b.onLoad({ filter: /.*/, namespace: 'not-in-hook' }, (args) => ({
          contents: `throw new Error(${JSON.stringify(`${args.path} is not part of the dhcp-patch bundle (scripts/build.mjs NOT_IN_HOOK)`)});`,
          loader: 'js',
        }));
      },
    },
  ],
  banner: { js: "import { createRequire as __labopsCreateRequire } from 'node:module'; const require = __labopsCreateRequire(import.meta.url);" },
  legalComments: 'none',
  logLevel: 'warning',
});
// One module means no import of anything but Node's built-ins.
const foreign = [...readFileSync(HOOK_ENTRY, 'utf8').matchAll(/^import\b[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]).filter((p) => !p.startsWith('node:'));
if (foreign.length) throw new Error(`${HOOK_ENTRY} imports ${foreign.join(', ')}: it must be one module`);
