#!/usr/bin/env node
process.title = 'labops';
import('../dist/cli/main.js').then((m) => m.main());
