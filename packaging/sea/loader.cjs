// The single executable's main script. Node 20 runs it as one CommonJS script with neither import() nor a
// require() beyond Node's built-ins, so scripts/build.mjs --sea ships the CLI as the same code-split bundle as
// dist/cli, each module turned into CommonJS and stored as an asset of the executable with its V8 code cache
// (made at build time after warm-up runs, so the functions start-up needs are compiled already). This loads a
// module only when it is first required, as Node's loader does for dist/: `labops --help` reads a dozen small
// modules instead of compiling one 3 MB script.
'use strict';
const vm = require('node:vm');
const { dirname } = require('node:path');

const { isBuiltin } = require('node:module');

/** What a chunk made for import() of a CommonJS package exports: the package's module.exports (scripts/build.mjs). */
const COMMONJS_EXPORTS = '__labopsCommonJs';

/** The module function's parameters, as Node's CommonJS wrapper has them; ES module code is strict. */
const wrap = (source) => `(function (exports, require, module, __filename, __dirname) {'use strict';${source}\n})`;

/**
 * A module registry over `source(id)` (the module's text) and `cachedData(id)` (its code cache, or undefined).
 * Ids are paths inside the bundle ('main.js', 'chunks/x-HASH.js'); anything else is required from Node.
 */
function createLoader({ source, cachedData, builtin }) {
  const modules = new Map();
  const scripts = new Map();
  let rejected = 0;
  function resolve(from, request) {
    const parts = dirname(from).split('/').filter((p) => p && p !== '.');
    for (const p of request.split('/')) {
      if (p === '..') parts.pop();
      else if (p !== '.') parts.push(p);
    }
    return parts.join('/');
  }
  // an optional dependency that is not bundled (mysql2's cardinal) is not found, as in node_modules
  function requireBuiltin(request) {
    if (isBuiltin(request)) return builtin(request);
    const e = new Error(`Cannot find module '${request}' (not in the single executable)`);
    e.code = 'MODULE_NOT_FOUND';
    throw e;
  }
  function load(id) {
    const known = modules.get(id);
    if (known) return known.exports;
    const data = cachedData(id);
    const script = new vm.Script(wrap(source(id)), { filename: `labops:${id}`, cachedData: data });
    if (data && script.cachedDataRejected) rejected++;
    scripts.set(id, script);
    const module = { id, exports: {} };
    modules.set(id, module);
    const requireFrom = (request) => {
      if (!request.startsWith('./') && !request.startsWith('../')) return requireBuiltin(request);
      const exports = load(resolve(id, request));
      return Object.prototype.hasOwnProperty.call(exports, COMMONJS_EXPORTS) ? exports[COMMONJS_EXPORTS] : exports;
    };
    script.runInThisContext()(module.exports, requireFrom, module, process.execPath, dirname(process.execPath));
    return module.exports;
  }
  return { load, scripts, rejected: () => rejected };
}

if (typeof module !== 'undefined') module.exports = { createLoader, wrap };

const sea = require('node:sea');
if (sea.isSea()) {
  const asset = (id) => {
    try {
      return Buffer.from(sea.getRawAsset(id));
    } catch {
      return undefined;
    }
  };
  const loader = createLoader({
    source: (id) => asset(id).toString('latin1'), // esbuild writes ASCII
    cachedData: (id) => asset(`${id}.cache`),
    builtin: require,
  });
  // scripts/package.mjs checks that V8 accepted every code cache (same Node, same flags)
  if (process.env.LABOPS_SEA_CHECK_CACHE) process.on('exit', () => process.stderr.write(`labops-sea: ${loader.rejected()} code caches rejected\n`));
  process.title = 'labops';
  loader.load('main.js').main();
}
