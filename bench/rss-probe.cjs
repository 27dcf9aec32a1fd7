// Preloaded with `node --require` into a benchmarked labops process: writes its peak RSS (VmHWM, KiB) to
// $LABOPS_BENCH_RSS_FILE when it exits, so no external `time` binary is needed.
const { readFileSync, writeFileSync } = require('node:fs');
process.on('exit', () => {
  const file = process.env.LABOPS_BENCH_RSS_FILE;
  if (!file) return;
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  if (m) writeFileSync(file, m[1]);
});
