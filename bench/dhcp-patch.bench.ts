// labops dhcp-patch on generated 5,000- and 20,000-host devices files (half of them managed by LINBO
// Docker): wall time and peak RSS of the real command vs `node -e ''` in the same run. Target: ≤ 3×,
// so the hook adds almost nothing to an import. Needs `npm run build` (it runs bin/labops.js). The single
// executable (built for the run, bench/executable.ts) runs beside it: no slower than the npm build.
// dhcpd.conf does not include the file here: dhcpd -t is the same external cost for the old hook.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { singleExecutable } from './executable.js';

const BIN = fileURLToPath(new URL('../bin/labops.js', import.meta.url));
const TIME = '/usr/bin/time';
const RUNS = Number(process.env.BENCH_RUNS ?? 9);

function generate(hosts: number): { dhcp: string; delta: string } {
  const dhcp: string[] = ['# subnet 10.0.0.0/8'];
  const delta: string[] = ['# managed-by: linbo-docker — DO NOT EDIT MANUALLY'];
  for (let i = 0; i < hosts; i++) {
    const name = `pc${i}`;
    const mac = `AA:BB:CC:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`.toUpperCase();
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${(i & 255) % 250 + 1}`;
    dhcp.push(`host ${name} {`, `  option host-name "${name}";`, `  hardware ethernet ${mac};`, `  fixed-address ${ip};`, '  option extensions-path "win11_efi_sata";', '  option nis-domain "win11_efi_sata";', '}');
    if (i % 2 === 0) delta.push(`lab;${name};win11_efi_sata;${mac};${ip};;;;;;1;;;;`);
  }
  return { dhcp: `${dhcp.join('\n')}\n`, delta: `${delta.join('\n')}\n` };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Wall ms (hrtime around the spawn) and peak RSS in KB (GNU time %M, when installed). */
function measure(argv: string[]): { ms: number; rssKb: number } {
  const useTime = existsSync(TIME);
  const t0 = process.hrtime.bigint();
  const r = useTime ? spawnSync(TIME, ['-f', '%M', ...argv], { encoding: 'utf8' }) : spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  const rssKb = useTime ? Number(r.stderr.trim().split('\n').pop()) : NaN;
  return { ms, rssKb };
}

export async function run(): Promise<{ name: string; figures: Record<string, number>; ratios: Record<string, number>; targets: Record<string, number> }> {
  if (!existsSync(fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)))) throw new Error('run `npm run build` first');
  const figures: Record<string, number> = {};
  const ratios: Record<string, number> = {};
  const exe = singleExecutable();
  const dir = mkdtempSync(join(tmpdir(), 'labops-bench-dhcp-'));
  try {
    for (const hosts of [5000, 20000]) {
      const { dhcp, delta } = generate(hosts);
      const devices = join(dir, `h${hosts}`, 'dhcp', 'devices', 'default-school.conf');
      mkdirSync(join(dir, `h${hosts}`, 'dhcp', 'devices'), { recursive: true });
      const deltaPath = join(dir, `h${hosts}`, 'delta.csv');
      const dhcpdConf = join(dir, `h${hosts}`, 'dhcp', 'dhcpd.conf');
      const conf = join(dir, `h${hosts}`, 'linbo-docker-dhcp.conf');
      writeFileSync(deltaPath, delta);
      writeFileSync(dhcpdConf, 'ddns-update-style none;\n');
      writeFileSync(conf, `LINBO_DOCKER_IP=10.0.0.13\nDELTA_CSV=${deltaPath}\nDEVICES_DHCP=${devices}\nLOGFILE=${join(dir, `h${hosts}`, 'hook.log')}\nDHCPD_CONF=${dhcpdConf}\n`);
      const base: number[] = [];
      const baseRss: number[] = [];
      const patch: number[] = [];
      const patchRss: number[] = [];
      const idem: number[] = [];
      const exePatch: number[] = [];
      const exeRss: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        // interleaved, so load on the machine hits both alike
        const b = measure([process.execPath, '-e', '']);
        base.push(b.ms);
        baseRss.push(b.rssKb);
        writeFileSync(devices, dhcp);
        const p = measure([process.execPath, BIN, 'dhcp-patch', '--conf', conf, '-q']);
        patch.push(p.ms);
        patchRss.push(p.rssKb);
        idem.push(measure([process.execPath, BIN, 'dhcp-patch', '--conf', conf, '-q']).ms);
        writeFileSync(devices, dhcp);
        const e = measure([exe, 'dhcp-patch', '--conf', conf, '-q']);
        exePatch.push(e.ms);
        exeRss.push(e.rssKb);
      }
      figures[`node_e_ms`] = Math.min(figures.node_e_ms ?? Infinity, median(base));
      figures[`node_e_rss_mb`] = median(baseRss) / 1024;
      figures[`patch_${hosts}_ms`] = median(patch);
      figures[`patch_${hosts}_rss_mb`] = Math.max(...patchRss) / 1024;
      figures[`idempotent_${hosts}_ms`] = median(idem);
      ratios[`patch_${hosts}_vs_node_e`] = median(patch) / median(base);
      figures[`exe_patch_${hosts}_ms`] = median(exePatch);
      figures[`exe_patch_${hosts}_rss_mb`] = Math.max(...exeRss) / 1024;
      ratios[`exe_patch_${hosts}_vs_node_e`] = median(exePatch) / median(base);
      ratios[`exe_patch_${hosts}_vs_npm_build`] = median(exePatch) / median(patch);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const k of Object.keys(figures)) figures[k] = Math.round(figures[k]! * 10) / 10;
  for (const k of Object.keys(ratios)) ratios[k] = Math.round(ratios[k]! * 100) / 100;
  return {
    name: 'dhcp-patch (5,000 and 20,000 hosts, half managed) vs node -e "" (target ≤ 3×); the single executable vs the npm build (target ≤ 1×)',
    figures,
    ratios,
    targets: { patch_5000_vs_node_e: 3, patch_20000_vs_node_e: 3, exe_patch_5000_vs_node_e: 3, exe_patch_20000_vs_node_e: 3, exe_patch_5000_vs_npm_build: 1, exe_patch_20000_vs_npm_build: 1 },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await run();
  console.log(JSON.stringify(r, null, 2));
}
