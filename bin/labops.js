#!/usr/bin/env node
process.title = 'labops';
// `labops dhcp-patch` runs as the device-import hook on every import: it has its own one-module bundle
// (scripts/build.mjs). Same CLI code; it only leaves out what that command never loads.
import(process.argv[2] === 'dhcp-patch' ? '../dist/cli/hook.js' : '../dist/cli/main.js').then((m) => m.main());
