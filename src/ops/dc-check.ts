// labops dc check: what `dc setup` installed, checked read-only: Redis and the API with the key, the files and
// their modes, that the hook's and the unit's labops exist where import-devices and systemd will look for them,
// and that the old Python worker (macct-worker.service) is not consuming the same stream under the same name.
import { parseKv } from '../core/config/kv-file.js';
import { JOB_GROUP, JOB_STREAM } from '../domain/dc-jobs.js';
import { HOOK_NAME, UNIT_NAME, peerChecks, type Check, type DcPaths, type DcSetupPorts } from './dc-setup.js';

/**
 * The PATH a hook's bare command is looked up in: import-devices passes its own environment on, and under cron
 * (which runs it nightly on many servers) that is /usr/bin:/bin; labops elsewhere would not be found.
 */
export const HOOK_PATH = ['/usr/bin', '/bin'];

/** The DC worker's unit (linbo-docker-dc-worker), which consumes the same group. */
export const OLD_WORKER_UNIT = 'macct-worker.service';

export interface DcCheckConfig {
  redisHost: string;
  redisPort: number;
  redisPassword?: string;
  apiUrl: string;
  apiKey: string;
  master: string;
  importScript: string;
  samLdb: string;
  /** labops dc jobs' consumer name in the dc-workers group (CONSUMER_NAME, default the host name) */
  consumerName: string;
}

/** dc check: Redis, API (with the key), the files, the hook's and unit's programs, the old worker. Changes nothing. */
export async function dcCheck(cfg: DcCheckConfig, paths: DcPaths, ports: DcSetupPorts): Promise<Check[]> {
  const checks: Check[] = await peerChecks(cfg, ports);
  const file = (name: string, path: string, want: 'fail' | 'warn', extra?: (mode: number) => Check | undefined) => {
    const mode = ports.mode(path);
    if (mode === undefined) return checks.push({ name, status: want, detail: `${path} missing` });
    checks.push(extra?.(mode) ?? { name, status: 'ok', detail: path });
  };
  const hook = `${paths.hookDir}/${HOOK_NAME}`;
  const unit = `${paths.systemdDir}/${UNIT_NAME}`;
  file('worker config', paths.workerConf, 'fail', (m) => ((m & 0o077) !== 0 ? { name: 'worker config', status: 'warn', detail: `${paths.workerConf} is mode ${(m & 0o777).toString(8)}; it holds the API key: chmod 600` } : undefined));
  file('hook config', paths.hookConf, 'warn');
  file('hook', hook, 'warn', (m) => ((m & 0o111) === 0 ? { name: 'hook', status: 'fail', detail: `${hook} is not executable: import-devices skips it` } : hookProgramCheck(hook, ports)));
  file('systemd unit', unit, 'warn', () => unitProgramCheck(unit, ports));
  file('devices.csv', cfg.master, 'fail');
  file('import-devices', cfg.importScript, 'warn');
  file('sam.ldb', cfg.samLdb, 'warn');
  checks.push(await oldWorkerCheck(cfg.consumerName, paths, ports));
  return checks;
}

/** Words of a shell or systemd command line: plain words, '…' and "…" (what shJoin and dc setup write). */
export function commandWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g)) words.push(m[1] ?? m[2]?.replace(/\\(.)/g, '$1') ?? m[3]!);
  return words;
}

const executable = (ports: DcSetupPorts, path: string) => {
  const mode = ports.mode(path);
  return mode !== undefined && (mode & 0o111) !== 0;
};

/** The programs a command names (its first word, and the script a runtime runs): each must be there and executable. */
function missingProgram(words: readonly string[], ports: DcSetupPorts, searchPath: readonly string[] | undefined): string | undefined {
  const [first, ...rest] = words;
  if (!first) return 'no command';
  if (!first.startsWith('/')) {
    if (!searchPath) return `'${first}' is not an absolute path`;
    if (!searchPath.some((d) => executable(ports, `${d}/${first}`))) return `'${first}' is not found on ${searchPath.join(':')} (the PATH import-devices gives hooks under cron)`;
  } else if (!executable(ports, first)) return `${first} ${ports.mode(first) === undefined ? 'does not exist' : 'is not executable'}`;
  const script = rest.find((w) => w.startsWith('/'));
  if (script !== undefined && ports.mode(script) === undefined) return `${script} does not exist`;
  return undefined;
}

/** The hook runs `exec <labops…> dhcp-patch "$@"`: that labops must resolve where import-devices runs hooks. */
function hookProgramCheck(hook: string, ports: DcSetupPorts): Check {
  const text = ports.readFile(hook) ?? '';
  const line = text.split('\n').find((l) => /^\s*exec\s.*\sdhcp-patch(\s|$)/.test(l));
  if (!line) return { name: 'hook', status: 'warn', detail: `${hook} does not run labops dhcp-patch (the DC worker's bash hook?): run labops dc setup again` };
  const words = commandWords(line.trim().slice(4));
  const problem = missingProgram(words.slice(0, words.indexOf('dhcp-patch')), ports, HOOK_PATH);
  if (problem) return { name: 'hook', status: 'fail', detail: `${hook} runs labops as ${words.slice(0, words.indexOf('dhcp-patch')).join(' ')}, but ${problem}: every device import would fail; run labops dc setup again` };
  return { name: 'hook', status: 'ok', detail: `${hook} -> ${words.slice(0, words.indexOf('dhcp-patch')).join(' ')}` };
}

/** ExecStart of a unit file, without systemd's prefixes (-, @, :, +, !). */
function execStart(text: string): string[] | undefined {
  const line = text.split('\n').find((l) => /^\s*ExecStart\s*=/.test(l));
  return line === undefined ? undefined : commandWords(line.replace(/^\s*ExecStart\s*=\s*[-@:+!]*/, ''));
}

/** The unit's ExecStart must name a labops that exists: systemd would restart a missing binary every 10 s forever. */
function unitProgramCheck(unit: string, ports: DcSetupPorts): Check {
  const words = execStart(ports.readFile(unit) ?? '');
  if (!words?.length) return { name: 'systemd unit', status: 'fail', detail: `${unit} has no ExecStart` };
  const program = words.slice(0, Math.max(1, words.indexOf('dc')));
  const problem = missingProgram(program, ports, undefined);
  if (problem) return { name: 'systemd unit', status: 'fail', detail: `${unit} starts ${program.join(' ')}, but ${problem}: run labops dc setup again` };
  return { name: 'systemd unit', status: 'ok', detail: `${unit} -> ${program.join(' ')}` };
}

/** The consumer name the DC worker runs under: CONSUMER_NAME of its config file (-c), else of its unit's Environment=, else the host name. */
function oldWorkerConsumer(unitText: string, paths: DcPaths, ports: DcSetupPorts): string | undefined {
  const words = execStart(unitText) ?? [];
  const at = words.findIndex((w) => w === '-c' || w === '--config');
  const inline = words.find((w) => w.startsWith('--config='))?.slice('--config='.length);
  const conf = inline ?? (at >= 0 ? words[at + 1] : undefined) ?? paths.workerConf;
  const fromFile = parseKv(ports.readFile(conf) ?? '').find((e) => e.key.toLowerCase() === 'consumer_name')?.value;
  const fromUnit = /^\s*Environment\s*=.*\bCONSUMER_NAME=("?)([^"\s]+)\1/m.exec(unitText)?.[2];
  return fromFile || fromUnit || ports.hostname?.();
}

/** macct-worker.service installed or running beside labops dc jobs: under the same consumer name they take each other's jobs. */
async function oldWorkerCheck(consumerName: string, paths: DcPaths, ports: DcSetupPorts): Promise<Check> {
  const name = OLD_WORKER_UNIT;
  const file = [paths.systemdDir, ...paths.vendorUnitDirs].map((d) => `${d}/${OLD_WORKER_UNIT}`).find((p) => ports.exists(p));
  const state = await ports.unitState?.(OLD_WORKER_UNIT).catch(() => undefined);
  const running = state?.active === 'active' || state?.active === 'activating';
  if (!file && !running) return { name, status: 'ok', detail: 'not installed (labops dc jobs is the only consumer of this DC)' };
  const how = [file ? `installed (${file})` : undefined, state?.enabled === 'enabled' ? 'enabled' : undefined, running ? 'running' : undefined].filter(Boolean).join(', ');
  const theirs = oldWorkerConsumer(file ? (ports.readFile(file) ?? '') : '', paths, ports);
  if (theirs === undefined || theirs === consumerName) {
    return {
      name,
      status: 'fail',
      detail: `the DC worker ${name} is ${how} and consumes ${JOB_STREAM} in group ${JOB_GROUP} as '${theirs ?? '?'}', the consumer name labops dc jobs uses ('${consumerName}'): the two would take each other's pending jobs; stop it: systemctl disable --now ${name}`,
    };
  }
  return { name, status: 'warn', detail: `the DC worker ${name} is ${how} and consumes ${JOB_STREAM} in group ${JOB_GROUP} as '${theirs}' beside labops dc jobs ('${consumerName}'): jobs are split between them; disable it once labops runs: systemctl disable --now ${name}` };
}
