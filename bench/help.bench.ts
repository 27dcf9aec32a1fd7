// `labops --help` wall time against `node -e ''`: lazy loading keeps the CLI's start-up near Node's own. Both the
// npm build (node bin/labops.js) and the single executable (Node's SEA: lazily loaded modules with code caches), in
// the environment `npm run bench` runs in and in a clean one: NODE_EXTRA_CA_CERTS, when set, makes every Node
// start read a certificate file first, which flatters every ratio against `node -e ''`.
import { BIN, median, round, timeCommand, type BenchResult } from './lib.js';
import { singleExecutable } from './executable.js';

export async function run(): Promise<BenchResult> {
  const runs = Number(process.env.BENCH_HELP_RUNS ?? 30);
  const exe = singleExecutable();
  const clean: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8' };
  const cases = {
    node: [process.execPath, ['-e', ''], process.env],
    help: [process.execPath, [BIN, '--help'], process.env],
    wol_help: [process.execPath, [BIN, 'wol', '--help'], process.env],
    exe_help: [exe, ['--help'], process.env],
    exe_wol_help: [exe, ['wol', '--help'], process.env],
    clean_node: [process.execPath, ['-e', ''], clean],
    clean_help: [process.execPath, [BIN, '--help'], clean],
    clean_exe_help: [exe, ['--help'], clean],
  } satisfies Record<string, [string, string[], NodeJS.ProcessEnv]>;
  type Case = keyof typeof cases;
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, [] as number[]])) as Record<Case, number[]>;
  // Interleaved so that machine noise hits every side alike.
  for (let i = 0; i < runs; i++) {
    for (const k of Object.keys(cases) as Case[]) {
      const [cmd, args, env] = cases[k];
      const r = await timeCommand(cmd, args, env);
      if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
      times[k].push(r.ms);
    }
  }
  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])) as Record<Case, number>;
  return {
    name: 'startup: labops --help vs node -e "" (npm build and single executable)',
    figures: {
      node_ms: round(m.node, 1),
      labops_help_ms: round(m.help, 1),
      labops_wol_help_ms: round(m.wol_help, 1),
      exe_help_ms: round(m.exe_help, 1),
      exe_wol_help_ms: round(m.exe_wol_help, 1),
      clean_env_node_ms: round(m.clean_node, 1),
      clean_env_help_ms: round(m.clean_help, 1),
      clean_env_exe_help_ms: round(m.clean_exe_help, 1),
      runs,
    },
    ratios: {
      help_vs_node: round(m.help / m.node, 2),
      exe_help_vs_node: round(m.exe_help / m.node, 2),
      clean_env_help_vs_node: round(m.clean_help / m.clean_node, 2),
      clean_env_exe_help_vs_node: round(m.clean_exe_help / m.clean_node, 2),
    },
    targets: { help_vs_node: 1.5, exe_help_vs_node: 1.5, clean_env_exe_help_vs_node: 1.5 },
    notes: [`NODE_EXTRA_CA_CERTS is ${process.env.NODE_EXTRA_CA_CERTS ? 'set here: the clean-env figures are the ones a machine without it sees' : 'not set here'}`],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await run(), null, 2));
