// Preloaded with `node --require` into a benchmarked labops process: writes its peak RSS (VmHWM, KiB) and CPU
// time to $LABOPS_BENCH_RSS_FILE when it exits, so no external `time` binary is needed.
const { readFileSync, writeFileSync } = require('node:fs');
process.on('exit', () => {
  const file = process.env.LABOPS_BENCH_RSS_FILE;
  if (!file) return;
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  const cpu = process.cpuUsage();
  writeFileSync(file, JSON.stringify({ rssKiB: m ? Number(m[1]) : null, userMs: cpu.user / 1000, systemMs: cpu.system / 1000 }));
});
