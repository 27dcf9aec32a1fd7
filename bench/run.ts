// npm run bench: every bench/*.bench.ts, each against the real alternative in the same run; prints the
// figures and ratios (labops / alternative, lower is better) and whether each meets its target.
// `npm run bench -- wol` runs only the benchmarks whose file name contains "wol".
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchResult } from './lib.js';

const filter = process.argv.slice(2);
const dir = new URL('.', import.meta.url).pathname;
const files = readdirSync(dir).filter((f) => f.endsWith('.bench.ts') && (filter.length === 0 || filter.some((x) => f.includes(x)))).sort();
const results: (BenchResult & { file: string; error?: string })[] = [];
let failed = false;
for (const file of files) {
  process.stderr.write(`running ${file} …\n`);
  try {
    const mod = (await import(join(dir, file))) as { run(): Promise<BenchResult> };
    const r = await mod.run();
    results.push({ ...r, file });
    console.log(`\n${r.name}`);
    for (const [k, v] of Object.entries(r.figures)) console.log(`  ${k.padEnd(28)} ${v}`);
    for (const [k, v] of Object.entries(r.ratios)) {
      const target = r.targets?.[k];
      const ok = target === undefined || v <= target;
      if (!ok) failed = true;
      console.log(`  ratio ${k.padEnd(22)} ${String(v).padEnd(8)} ${target === undefined ? '' : `target ≤ ${target}  ${ok ? 'ok' : 'MISSED'}`}`);
    }
    for (const n of r.notes ?? []) console.log(`  note: ${n}`);
  } catch (e) {
    failed = true;
    results.push({ name: file, figures: {}, ratios: {}, file, error: (e as Error).message });
    console.log(`\n${file}: FAILED: ${(e as Error).message}`);
  }
}
mkdirSync(join(dir, 'results'), { recursive: true });
writeFileSync(join(dir, 'results', 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
process.exitCode = failed ? 1 : 0;
