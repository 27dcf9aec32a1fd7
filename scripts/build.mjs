#!/usr/bin/env node
// Builds dist/: the CLI and everything it lazy-loads, bundled by esbuild into a few ES modules split at the
// dynamic imports. Start-up is dominated by module loading (Node 20 has no compile cache), so one bundle per
// lazy boundary instead of hundreds of files keeps `labops --help` near `node -e ''`.
// Plus dist/cli/hook.js: `labops dhcp-patch` (the device-import hook, run on every import) as ONE module, which
// bin/labops.js loads for that command; see HOOK below. Type checking is `npm run typecheck` (tsc), which CI runs too.
import { build } from 'esbuild';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

// `--sea [--outdir DIR]`: only the bundle of the single executable (see SEA below); dist/cli is left alone.
if (process.argv.includes('--sea')) {
  const at = process.argv.indexOf('--outdir');
  await buildSea(at > 0 ? process.argv[at + 1] : 'dist/sea');
  process.exit(0);
}

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

// SEA: the bundle of the single executable (scripts/package.mjs; Node's single-executable applications). Node 20
// runs it as one CommonJS script without import() and whose require() reaches only Node's built-ins, so every
// package is inlined; the dynamic imports become lazily initialised functions, so start-up still runs only what a
// command needs, and
// the code cache built into the executable spares V8 the parse. Native addons cannot be inlined: better-sqlite3's
// loader (`bindings`) is replaced by packaging/sea/bindings.cjs, ssh2's optional cpu-features is left out (ssh2
// runs without it), and the sources' createRequire(import.meta.url) goes to packaging/sea/module.cjs.
async function buildSea(outdir) {
  const root = new URL('..', import.meta.url).pathname;
  const shim = (name) => join(root, 'packaging', 'sea', name);
  const { BUNDLED_IDS } = createRequire(import.meta.url)(shim('module.cjs'));
  const wanted = lazyRequireIds(join(root, 'src'));
  const unlisted = wanted.filter((id) => !BUNDLED_IDS.includes(id));
  if (unlisted.length) throw new Error(`the sources require ${unlisted.join(', ')} at run time: list them in packaging/sea/module.cjs`);
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const result = await build({
    stdin: { contents: "process.title = 'labops';\nimport('./src/cli/main.ts').then((m) => m.main());\n", resolveDir: root, sourcefile: 'sea-entry.ts', loader: 'ts' },
    outfile: join(outdir, 'labops.cjs'),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    define: { LABOPS_VERSION: JSON.stringify(version) },
    // Node 20 gives the single executable's script no import(): every dynamic import becomes a require
    supported: { 'dynamic-import': false },
    plugins: [
      {
        name: 'sea-stand-ins',
        setup(b) {
          b.onResolve({ filter: /^bindings$/ }, () => ({ path: shim('bindings.cjs') }));
          b.onResolve({ filter: /^node:module$/ }, (args) => (args.importer.startsWith(join(root, 'src')) ? { path: shim('module.cjs') } : { external: true }));
          b.onResolve({ filter: /^cpu-features$/ }, (args) => ({ path: args.path, namespace: 'left-out' }));
          b.onLoad({ filter: /.*/, namespace: 'left-out' }, (args) => ({ contents: `throw new Error(${JSON.stringify(`${args.path} is not part of the single executable`)});`, loader: 'js' }));
        },
      },
    ],
    legalComments: 'none',
    logLevel: 'error',
    metafile: true,
  });
  // what went in: scripts/package.mjs collects the bundled packages' licenses from it
  writeFileSync(join(outdir, 'labops.meta.json'), JSON.stringify(result.metafile));
  // import.meta is empty in a CommonJS bundle: fine where it only feeds createRequire (the stand-in ignores it).
  const shimmed = (w) => w.id === 'empty-import-meta' && w.location?.file.startsWith('src/') && w.location.lineText.includes('createRequire(import.meta.url)');
  const warnings = result.warnings.filter((w) => !shimmed(w));
  for (const w of warnings) console.error(`warning: ${w.location ? `${w.location.file}:${w.location.line}: ` : ''}${w.text}`);
  if (warnings.some((w) => w.id === 'empty-import-meta')) throw new Error('a bundled module uses import.meta, which the single executable does not have');
}

/** The ids the sources load through createRequire(import.meta.url), which a bundler cannot follow. */
function lazyRequireIds(dir) {
  const ids = new Set();
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const text = readFileSync(join(entry.parentPath ?? entry.path, entry.name), 'utf8');
    if (!text.includes('createRequire(import.meta.url)')) continue;
    for (const m of text.matchAll(/(?:\brequire|createRequire\(import\.meta\.url\))\(\s*'([^']+)'/g)) ids.add(m[1]);
  }
  return [...ids];
}
