// Stand-in for the `bindings` package in the single executable: better-sqlite3 loads its native addon with
// require('bindings')('better_sqlite3.node'), which searches node_modules, and a single executable has none.
// Looked for, in order: <prefix>/lib/labops/ for <prefix>/bin/labops (the Debian package), the executable's own
// directory, and the copy embedded in the executable (written once to the user's cache directory, because
// dlopen needs a file). The addon is built for the Node inside the executable, so no compiler is needed.
'use strict';
const { createHash } = require('node:crypto');
const { existsSync, mkdirSync, openSync, writeSync, closeSync, renameSync, rmSync } = require('node:fs');
const { homedir } = require('node:os');
const { dirname, join, resolve } = require('node:path');

const loaded = new Map();

module.exports = function bindings(name) {
  if (!loaded.has(name)) loaded.set(name, load(name));
  return loaded.get(name);
};

function load(name) {
  const exeDir = dirname(process.execPath);
  const beside = [resolve(exeDir, '..', 'lib', 'labops', name), join(exeDir, name)];
  const file = beside.find((p) => existsSync(p)) ?? extractEmbedded(name);
  if (!file) throw failure(`${beside[0]} is missing (nor is it beside the executable or embedded in it)`, 'LABOPS_NATIVE_MISSING');
  const module = { exports: {} };
  try {
    process.dlopen(module, file);
  } catch (e) {
    throw failure(`${file}: ${String(e.message).split('\n')[0]}`, e.code ?? 'ERR_DLOPEN_FAILED');
  }
  return module.exports;
}

/** What src/core/db/database.ts reports: the cause and the fix, in one line. */
function failure(message, code, fix = 'reinstall the labops package (apt-get install --reinstall labops) or the single executable') {
  const err = new Error(message);
  err.code = code;
  err.fix = fix;
  return err;
}

/** The embedded copy as a file named by its hash, so versions never mix; written atomically (temp + rename). */
function extractEmbedded(name) {
  let sea;
  try {
    sea = require('node:sea');
  } catch {
    return undefined;
  }
  if (!sea.isSea()) return undefined;
  let bytes;
  try {
    bytes = Buffer.from(sea.getRawAsset(name));
  } catch {
    return undefined;
  }
  const cacheHome = process.env.XDG_CACHE_HOME || join(process.env.HOME || homedir(), '.cache');
  const dir = join(cacheHome, 'labops', 'native', createHash('sha256').update(bytes).digest('hex').slice(0, 16));
  const file = join(dir, name);
  if (existsSync(file)) return file;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'wx', 0o500);
    try {
      writeSync(fd, bytes);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    return file;
  } catch (e) {
    try {
      rmSync(`${file}.${process.pid}.tmp`, { force: true });
    } catch {
      // the directory could not be made: there is no temp file
    }
    throw failure(`cannot write the embedded ${name} to ${dir}: ${e.message}`, 'LABOPS_NATIVE_MISSING', 'set XDG_CACHE_HOME to a writable directory, or install the labops Debian package');
  }
}
