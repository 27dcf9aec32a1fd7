#!/usr/bin/env node
// Builds dist/: the CLI and everything it lazy-loads, bundled by esbuild into a few ES modules split at the
// dynamic imports. Start-up is dominated by module loading (Node 20 has no compile cache), so one bundle per
// lazy boundary instead of hundreds of files keeps `labops --help` near `node -e ''`.
// Plus dist/cli/hook.js: `labops dhcp-patch` (the device-import hook, run on every import) as ONE module, which
// bin/labops.js loads for that command; see HOOK below. Type checking is `npm run typecheck` (tsc), which CI runs too.
import { build, transform } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// `--sea [--outdir DIR]`: only the bundle of the single executable (see SEA below); dist/cli is left alone.
if (process.argv.includes('--sea')) {
  const at = process.argv.indexOf('--outdir');
  await buildSea(at > 0 ? process.argv[at + 1] : 'dist/sea');
  process.exit(0);
}

const BUNDLED = new Set(['commander', 'zod', 'kysely']);

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

// SEA: the modules of the single executable (scripts/package.mjs; Node's single-executable applications). The same
// code-split bundle as dist/cli, with every package inlined (the executable has no node_modules), each module then
// turned into CommonJS (Node 20 gives the executable's script neither import() nor ES modules) and given its V8
// code cache after warm-up runs; packaging/sea/loader.cjs is the executable's main script and loads them lazily
// from its assets. Native addons cannot be inlined: better-sqlite3's loader (`bindings`) is replaced by
// packaging/sea/bindings.cjs, ssh2's optional cpu-features is left out (ssh2 runs without it), and the sources'
// createRequire(import.meta.url) goes to packaging/sea/module.cjs.
// Output: <outdir>/modules/{main.js,chunks/*.js} with *.js.cache beside each, and labops.meta.json.
async function buildSea(outdir) {
  const root = new URL('..', import.meta.url).pathname;
  const shim = (name) => join(root, 'packaging', 'sea', name);
  const { BUNDLED_IDS } = createRequire(import.meta.url)(shim('module.cjs'));
  const wanted = lazyRequireIds(join(root, 'src'));
  const unlisted = wanted.filter((id) => !BUNDLED_IDS.includes(id));
  if (unlisted.length) throw new Error(`the sources require ${unlisted.join(', ')} at run time: list them in packaging/sea/module.cjs`);
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const modules = join(outdir, 'modules');
  rmSync(outdir, { recursive: true, force: true });
  const result = await build({
    entryPoints: { main: join(root, 'src', 'cli', 'main.ts') },
    outdir: modules,
    write: false,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    chunkNames: 'chunks/[name]-[hash]',
    // fewer bytes to read and hash at every start; names stay, so stack traces (--verbose) stay readable
    minifyWhitespace: true,
    minifySyntax: true,
    define: { LABOPS_VERSION: JSON.stringify(version) },
    plugins: [
      {
        name: 'sea-stand-ins',
        setup(b) {
          b.onResolve({ filter: /^bindings$/ }, () => ({ path: shim('bindings.cjs') }));
          b.onResolve({ filter: /^node:module$/ }, (args) => (args.importer.startsWith(join(root, 'src')) ? { path: shim('module.cjs') } : { external: true }));
          b.onResolve({ filter: /^cpu-features$/ }, (args) => ({ path: args.path, namespace: 'left-out' }));
          b.onLoad({ filter: /.*/, namespace: 'left-out' }, (args) => ({ contents: `throw new Error(${JSON.stringify(`${args.path} is not part of the single executable`)});`, loader: 'js' }));
          // import('mysql2') of a CommonJS package: a split ES module chunk exports only `default`, where Node
          // also gives the package's named exports (`const { createPool } = await import('mysql2')`). The chunk
          // hands over the package's module.exports instead; the loader passes that on (see COMMONJS_EXPORTS).
          b.onResolve({ filter: /^[^./]/ }, async (args) => {
            if (args.kind !== 'dynamic-import' || args.namespace === 'commonjs-import' || args.path.startsWith('node:')) return undefined;
            const found = await b.resolve(args.path, { kind: 'import-statement', resolveDir: args.resolveDir });
            return found.errors.length === 0 && isCommonJs(found.path) ? { path: args.path, namespace: 'commonjs-import', pluginData: args.resolveDir } : undefined;
          });
          b.onLoad({ filter: /.*/, namespace: 'commonjs-import' }, (args) => ({ contents: `export const __labopsCommonJs = require(${JSON.stringify(args.path)});`, resolveDir: args.pluginData, loader: 'js' }));
        },
      },
    ],
    legalComments: 'none',
    logLevel: 'error',
    metafile: true,
  });
  for (const w of result.warnings) console.error(`warning: ${w.location ? `${w.location.file}:${w.location.line}: ` : ''}${w.text}`);
  for (const file of result.outputFiles) {
    // import()/export become require()/exports; import.meta is empty, which only the createRequire stand-in sees
    const cjs = await transform(file.text, { format: 'cjs', loader: 'js', supported: { 'dynamic-import': false }, minifyWhitespace: true, logLevel: 'error' });
    const foreign = cjs.warnings.filter((w) => w.id === 'empty-import-meta' && !(/createRequire\)?\(import\.meta\.url\)/.test(w.location?.lineText ?? '')));
    if (foreign.length) throw new Error(`${file.path}: a bundled module uses import.meta, which the single executable does not have`);
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileSync(file.path, cjs.code);
  }
  writeFileSync(join(outdir, 'labops.meta.json'), JSON.stringify(result.metafile));
  writeFileSync(join(outdir, 'loader.cjs'), readFileSync(shim('loader.cjs')));
  // warm-up: start-up, the device-import hook (on a two-host tree of its own), a command's help
  const tree = mkdtempSync(join(tmpdir(), 'labops-sea-warmup-'));
  try {
    writeFileSync(join(tree, 'delta.csv'), 'lab;pc01;win11;AA:BB:CC:00:00:01;10.0.0.1;;;;;;1;;;;\nlab;pc02;win11;AA:BB:CC:00:00:02;10.0.0.2;;;;;;1;;;;\n');
    writeFileSync(join(tree, 'devices.conf'), 'host pc01 {\n  hardware ethernet AA:BB:CC:00:00:01;\n  fixed-address 10.0.0.1;\n}\nhost pc02 {\n  hardware ethernet AA:BB:CC:00:00:02;\n  fixed-address 10.0.0.2;\n  next-server 10.0.0.13;\n}\n');
    writeFileSync(join(tree, 'dhcpd.conf'), '\n');
    writeFileSync(join(tree, 'hook.conf'), `LINBO_DOCKER_IP=10.0.0.13\nDELTA_CSV=${tree}/delta.csv\nDEVICES_DHCP=${tree}/devices.conf\nDHCPD_CONF=${tree}/dhcpd.conf\nLOGFILE=${tree}/hook.log\n`);
    const warmups = [['--help'], ['--version'], ['dhcp-patch', '--conf', join(tree, 'hook.conf'), '-q'], ['wol', '--help']];
    const r = spawnSync(process.execPath, [shim('code-cache.cjs'), modules, JSON.stringify(warmups)], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: tree, LANG: 'C.UTF-8' } });
    if (r.status !== 0) throw new Error(`code caches: ${r.stderr || r.stdout}`);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

/** Whether Node loads this file as CommonJS: .cjs, or .js under a package.json without "type": "module". */
function isCommonJs(file) {
  if (file.endsWith('.cjs')) return true;
  if (!file.endsWith('.js')) return false;
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).type !== 'module';
    } catch {
      // no package.json here: look further up
    }
  }
  return true;
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
