// Stand-in for node:module's createRequire in the single executable, where the sources' lazy
// createRequire(import.meta.url)(id) calls cannot reach a node_modules directory: what they load is bundled here.
// An id not listed is a build mistake, reported by name (scripts/build.mjs checks the list against the sources).
'use strict';
const BUNDLED = {
  // src/cli/main.ts: the version
  '../../package.json': () => ({ version: LABOPS_VERSION }), // eslint-disable-line no-undef
  // src/core/net/magic-packet.ts
  wake_on_lan: () => require('wake_on_lan'),
};

exports.createRequire = function createRequire() {
  return function requireBundled(id) {
    const get = BUNDLED[id];
    if (!get) throw new Error(`${id} is not bundled into the single executable (packaging/sea/module.cjs)`);
    return get();
  };
};
exports.BUNDLED_IDS = Object.keys(BUNDLED);
