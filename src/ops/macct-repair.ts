// labops macct-repair and the consumer's macct_repair jobs: restore a computer's machine-account
// password in sam.ldb from the image's `.macct` file, natively, the way linuxmuster-linbo7 does it on a
// LINBO boot (NOTES §5): find the computer's DN with ldbsearch, put it into the stored LDIF
// (`dn: @@dn@@`, replace unicodePwd / supplementalCredentials) and ldbmodify it with linuxmuster's controls.
// The worker's repair_macct.py exists nowhere upstream; when REPAIR_SCRIPT points at an existing file
// (or REPAIR_MODE=script) that script is run instead, exactly as the worker ran it.
import { OperationFailed, UsageError } from '../domain/errors.js';
import { parseRepairScriptOutput } from '../domain/dc-jobs.js';
import { hostKey, parseDevicesCsv, qualifiedHostname } from '../domain/devices-csv/index.js';
import type { MacctWorkerConfig } from '../core/config/macct-worker-conf.js';

export interface MacctRecord {
  dn: string;
  unicodePwd?: string;
  supplementalCredentials?: string;
}

export interface MacctRepairPorts {
  /** throws UsageError (missing) / AuthFailed (permissions) */
  checkSamLdb(samLdb: string): void;
  findComputer(samLdb: string, name: string): Promise<MacctRecord | undefined>;
  modify(samLdb: string, ldif: string): Promise<string>;
  readFile(path: string): string | undefined;
  exists(path: string): boolean;
  runScript(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean; error?: string }>;
}

export interface MacctRepairConfig {
  samLdb: string;
  school: string;
  /** the school's devices.csv (the host's LINBO group → start.conf → image) */
  devicesCsv: string;
  linboDir: string;
  imageDir: string;
  repairScript: string;
  repairMode: 'auto' | 'native' | 'script';
  logDir: string;
  /** an explicit .macct file for every host */
  macctFile?: string;
}

/** The repair settings of the worker config; `mode` (chosen on the command line) wins over REPAIR_MODE. */
export function macctRepairConfig(wc: MacctWorkerConfig, mode?: 'native' | 'script'): MacctRepairConfig {
  const v = wc.values;
  return {
    samLdb: wc.samLdb,
    school: wc.school,
    devicesCsv: wc.devicesCsvMaster,
    linboDir: v.linbo_dir!,
    imageDir: v.image_dir!,
    repairScript: v.repair_script!,
    repairMode: mode ?? (v.repair_mode === 'native' || v.repair_mode === 'script' ? v.repair_mode : 'auto'),
    logDir: v.log_dir!,
  };
}

export interface MacctRepairResult {
  host: string;
  /** the AD name (<school>-<host> for other schools) */
  account: string;
  status: 'repaired' | 'unchanged' | 'failed';
  method: 'native' | 'script';
  dn?: string;
  macctFile?: string;
  /** attributes that were replaced */
  changed: string[];
  error?: string;
  /** the worker-compatible result body reported to the API */
  result?: Record<string, unknown>;
}

const TEMPLATE_ATTRS = ['unicodePwd', 'supplementalCredentials'] as const;

/** The values of unicodePwd/supplementalCredentials in a stored .macct LDIF (base64, unwrapped). */
export function readMacctLdif(text: string): { unicodePwd?: string; supplementalCredentials?: string } {
  const lines: string[] = [];
  for (const raw of text.split('\n')) {
    const l = raw.replace(/\r$/, '');
    if (l.startsWith(' ') && lines.length) lines[lines.length - 1] += l.slice(1);
    else lines.push(l);
  }
  const out: { unicodePwd?: string; supplementalCredentials?: string } = {};
  for (const l of lines) {
    for (const a of TEMPLATE_ATTRS) {
      if (l.startsWith(`${a}::`)) out[a] = l.slice(a.length + 2).trim();
    }
  }
  return out;
}

/** The LDIF to apply: the stored file with its DN line replaced (the `@@dn@@` substitution). */
export function ldifForDn(text: string, dn: string): string {
  const body = text.replace(/\r\n/g, '\n');
  if (/^dn:.*$/m.test(body)) return body.replace(/^dn:.*$/m, `dn: ${dn}`);
  return `dn: ${dn}\n${body}`;
}

/** LINBO images a group's start.conf boots (BaseImage = x.qcow2 in each [OS] section). */
export function imagesOfStartConf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*BaseImage\s*=\s*([^\s#]+)/gim)) if (!out.includes(m[1]!)) out.push(m[1]!);
  return out;
}

/** Where linuxmuster-linbo7 keeps `<image>.macct`: images/<base>/ (LINBO 4) or the LINBO dir (older). */
export function macctCandidates(image: string, cfg: Pick<MacctRepairConfig, 'linboDir' | 'imageDir'>): string[] {
  const base = image.replace(/\.(qcow2|qdiff|cloop)$/, '');
  return [`${cfg.imageDir}/${base}/${image}.macct`, `${cfg.imageDir}/${image}.macct`, `${cfg.linboDir}/${image}.macct`];
}

function findMacctFile(host: string, cfg: MacctRepairConfig, ports: MacctRepairPorts): { file: string } | { error: string } {
  if (cfg.macctFile) return ports.exists(cfg.macctFile) ? { file: cfg.macctFile } : { error: `machine account file not found: ${cfg.macctFile}` };
  const csv = ports.readFile(cfg.devicesCsv);
  if (csv === undefined) return { error: `cannot find the host's image: ${cfg.devicesCsv} not found (give --macct-file)` };
  const row = parseDevicesCsv(csv).lines.find((l) => l.kind === 'row' && l.fields.length >= 3 && hostKey(l.fields) === host.toLowerCase());
  if (!row) return { error: `host '${host}' is not in ${cfg.devicesCsv}, so its LINBO image is unknown (give --macct-file)` };
  const group = row.fields[2]!.trim();
  const startConf = `${cfg.linboDir}/start.conf.${group}`;
  const sc = ports.readFile(startConf);
  if (sc === undefined) return { error: `host '${host}' is in group '${group}', but ${startConf} does not exist` };
  const tried: string[] = [];
  for (const image of imagesOfStartConf(sc)) {
    for (const c of macctCandidates(image, cfg)) {
      tried.push(c);
      if (ports.exists(c)) return { file: c };
    }
  }
  return { error: `no machine account file (.macct) for group '${group}'${tried.length ? `; looked at ${tried.join(', ')}` : ` (${startConf} names no BaseImage)`}` };
}

function useScript(cfg: MacctRepairConfig, ports: MacctRepairPorts): boolean {
  if (cfg.repairMode === 'script') return true;
  if (cfg.repairMode === 'native') return false;
  return ports.exists(cfg.repairScript);
}

/** Repairs one host. Never throws for a per-host problem (status 'failed'); sam.ldb problems do throw. */
export async function repairMacct(host: string, cfg: MacctRepairConfig, ports: MacctRepairPorts, o: { logFile?: string } = {}): Promise<MacctRepairResult> {
  const account = qualifiedHostname(cfg.school, host.toLowerCase());
  if (useScript(cfg, ports)) {
    const res: MacctRepairResult = { host, account, status: 'failed', method: 'script', changed: [] };
    if (!ports.exists(cfg.repairScript)) return { ...res, error: `Repair script not found: ${cfg.repairScript}` };
    const r = await ports.runScript('python3', ['--', cfg.repairScript, '--only-hosts', host, '-s', cfg.school, '--log-file', o.logFile ?? `${cfg.logDir}/macct-repair.log`], 300_000);
    if (r.error) return { ...res, error: r.error };
    if (r.timedOut) return { ...res, error: 'Script timed out after 5 minutes' };
    if (r.code !== 0) return { ...res, error: r.stderr.trim() || `Script exited with code ${r.code}` };
    const result = parseRepairScriptOutput(r.stdout) as unknown as Record<string, unknown>;
    return { ...res, status: result.no_changes || result.skipped ? 'unchanged' : 'repaired', changed: result.unicodePwd_updated ? ['unicodePwd'] : [], result };
  }

  const res: MacctRepairResult = { host, account, status: 'failed', method: 'native', changed: [] };
  ports.checkSamLdb(cfg.samLdb);
  const before = await ports.findComputer(cfg.samLdb, account);
  if (!before) return { ...res, error: `no computer account ${account.toUpperCase()}$ in ${cfg.samLdb}` };
  res.dn = before.dn;
  const found = findMacctFile(host, cfg, ports);
  if ('error' in found) return { ...res, error: found.error };
  res.macctFile = found.file;
  const text = ports.readFile(found.file) ?? '';
  const stored = readMacctLdif(text);
  if (!stored.unicodePwd) return { ...res, error: `${found.file} holds no unicodePwd` };
  const changed = TEMPLATE_ATTRS.filter((a) => stored[a] !== undefined && stored[a] !== before[a]);
  if (changed.length === 0) {
    return { ...res, status: 'unchanged', result: { processed: true, stdout_lines: 0, no_changes: true, dn: before.dn, macctFile: found.file } };
  }
  const out = await ports.modify(cfg.samLdb, ldifForDn(text, before.dn));
  const after = await ports.findComputer(cfg.samLdb, account);
  if (!after || after.unicodePwd !== stored.unicodePwd) {
    return { ...res, error: `ldbmodify reported success but ${account.toUpperCase()}$ does not carry the stored password` };
  }
  return {
    ...res,
    status: 'repaired',
    changed: [...changed],
    result: {
      processed: true,
      stdout_lines: out.split('\n').filter((l) => l.trim()).length,
      unicodePwd_updated: changed.includes('unicodePwd') || undefined,
      supplementalCredentials_updated: changed.includes('supplementalCredentials') || undefined,
      dn: before.dn,
      macctFile: found.file,
    },
  };
}

/** Real ports over the ldb adapter, the file system and child processes. */
export async function systemMacctPorts(env: NodeJS.ProcessEnv, ldbOptions: { timeoutMs?: number } = {}): Promise<MacctRepairPorts> {
  const [{ readFileSync, existsSync }, { spawn }, ldb, { childEnv }] = await Promise.all([import('node:fs'), import('node:child_process'), import('../core/samba/ldb.js'), import('../core/child-env.js')]);
  return {
    checkSamLdb: ldb.checkSamLdb,
    async findComputer(samLdb, name) {
      const r = await ldb.findComputer(samLdb, name, { ...ldbOptions, env });
      if (!r) return undefined;
      return { dn: r.dn, unicodePwd: r.attrs.unicodePwd?.[0], supplementalCredentials: r.attrs.supplementalCredentials?.[0] };
    },
    modify: (samLdb, ldif) => ldb.ldbModify(samLdb, ldif, { ...ldbOptions, env }),
    readFile(path) {
      try {
        return readFileSync(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
      }
    },
    exists: (path) => existsSync(path),
    runScript: (cmd, args, timeoutMs) =>
      new Promise((resolve) => {
        const child = spawn(cmd, args, { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, timeoutMs);
        child.stdout.on('data', (c) => (stdout += c));
        child.stderr.on('data', (c) => (stderr += c));
        child.on('error', (e) => {
          clearTimeout(timer);
          resolve({ code: null, stdout, stderr, timedOut: false, error: e.message });
        });
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr, timedOut });
        });
      }),
  };
}

/** The consumer's macct_repair handler: ok with the result body, or the error for the retry path. */
export async function repairForJob(
  job: { host: string; school: string; operationId: string },
  cfg: MacctRepairConfig,
  ports: MacctRepairPorts,
): Promise<{ ok: true; result: Record<string, unknown> } | { ok: false; error: string }> {
  try {
    const r = await repairMacct(job.host, { ...cfg, school: job.school || cfg.school }, ports, { logFile: `${cfg.logDir}/${job.operationId}.log` });
    if (r.status === 'failed') return { ok: false, error: r.error ?? 'repair failed' };
    return { ok: true, result: stripUndefined(r.result ?? { processed: true }) };
  } catch (e) {
    if (e instanceof OperationFailed || e instanceof Error) return { ok: false, error: e.message };
    return { ok: false, error: String(e) };
  }
}

function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
