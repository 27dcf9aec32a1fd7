// Build time (scripts/build.mjs --sea): runs the single executable's modules from their directory through the same
// loader as the executable, for the warm-up command lines given, then writes each module's V8 code cache beside
// it (<id>.cache): what the warm-up ran is compiled in it. A module the warm-up did not load gets the cache of its
// top level. Run with the Node that goes into the executable: V8 accepts a cache only from its own version.
//   node code-cache.cjs <modules dir> '<JSON array of argv arrays>'   (the warm-up's output goes to stdout/stderr)
'use strict';
const { readFileSync, readdirSync, writeFileSync } = require('node:fs');
const { isBuiltin } = require('node:module');
const { join, relative } = require('node:path');
const vm = require('node:vm');
const { createLoader, wrap } = require('./loader.cjs');

const [dir, warmups] = [process.argv[2], JSON.parse(process.argv[3])];
const source = (id) => readFileSync(join(dir, id), 'latin1');
const builtin = (id) => {
  if (!isBuiltin(id)) throw new Error(`${id} is neither a module of the bundle nor built into Node`);
  return require(id);
};
const loader = createLoader({ source, cachedData: () => undefined, builtin });

(async () => {
  const main = loader.load('main.js');
  for (const args of warmups) await main.run(args, { io: main.IOStreams.system(), env: process.env });
  const ids = readdirSync(dir, { recursive: true }).map((f) => relative(dir, join(dir, f))).filter((f) => f.endsWith('.js'));
  for (const id of ids) {
    const script = loader.scripts.get(id) ?? new vm.Script(wrap(source(id)), { filename: `labops:${id}` });
    writeFileSync(join(dir, `${id}.cache`), script.createCachedData());
  }
  process.exit(0);
})().catch((e) => {
  process.stderr.write(`code cache: ${e.stack}\n`);
  process.exit(1);
});
