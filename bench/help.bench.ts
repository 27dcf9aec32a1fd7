// `labops --help` wall time against `node -e ''`: lazy loading keeps the CLI's start-up near Node's own.
import { BIN, median, round, timeCommand, type BenchResult } from './lib.js';

export async function run(): Promise<BenchResult> {
  const runs = Number(process.env.BENCH_HELP_RUNS ?? 30);
  const node: number[] = [];
  const help: number[] = [];
  const dhcp: number[] = [];
  // Interleaved so that machine noise hits both sides alike.
  for (let i = 0; i < runs; i++) {
    node.push((await timeCommand(process.execPath, ['-e', ''])).ms);
    help.push((await timeCommand(process.execPath, [BIN, '--help'])).ms);
    dhcp.push((await timeCommand(process.execPath, [BIN, 'wol', '--help'])).ms);
  }
  const n = median(node);
  const h = median(help);
  return {
    name: 'startup: labops --help vs node -e ""',
    figures: { node_ms: round(n, 1), labops_help_ms: round(h, 1), labops_wol_help_ms: round(median(dhcp), 1), runs },
    ratios: { help_vs_node: round(h / n, 2) },
    targets: { help_vs_node: 1.5 },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await run(), null, 2));
