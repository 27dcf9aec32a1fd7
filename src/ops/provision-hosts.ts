// labops provision hosts: the worker's provision batch (NOTES §2.4) for one host, run by an operator.
// Under a lock: apply the job to the delta, merge into the master, validate the result with the rules
// of sophomorix-device (nothing is written when a row would make it exit 88), write both files
// atomically with one backup generation, run linuxmuster-import-devices -s <school>, then verify the
// AD computer object (sam.ldb), the DHCP host block and, when configured, DNS (LINBO_DOMAIN, `auto`
// resolved from Samba's realm in one place, resolveDnsDomain). Never prints.
import type { spawn as SpawnFn } from 'node:child_process';
import { AuthFailed, OperationFailed, UsageError } from '../domain/errors.js';
import {
  applyDeltaJob,
  checkHostname,
  decodeUtf8,
  emptyDelta,
  hostKey,
  isValidIpv4,
  lineText,
  mergeDevices,
  parseDevicesCsv,
  qualifiedHostname,
  roleHasComputerAccount,
  serializeDevicesCsv,
  validateDevices,
  type DeltaAction,
  type DeltaJob,
  type DevicesFile,
  type MergeConflict,
  type MergeStats,
} from '../domain/devices-csv/index.js';
import { scanDhcpd } from '../domain/dhcpd-conf/scan.js';
import { pythonJsonDumps } from '../domain/python-json.js';
import type { MacctWorkerConfig } from '../core/config/macct-worker-conf.js';

export interface ProvisionHostRequest {
  action: DeltaAction;
  hostname: string;
  /** rename: the host's previous name (update only) */
  renameFrom?: string;
  mac?: string;
  ip?: string;
  room?: string;
  config?: string;
  role?: string;
  pxe?: number;
  dryRun: boolean;
}

export interface ProvisionHostConfig {
  school: string;
  master: string;
  delta: string;
  importScript: string;
  lockFile: string;
  samLdb: string;
  dhcpVerifyFile?: string;
  /** DNS domain for the A-record check; undefined = not configured, no DNS check */
  dnsDomain?: string;
  importTimeoutMs: number;
}

export interface ProvisionPorts {
  readFile(path: string): Uint8Array | undefined;
  writeAtomic(path: string, data: string | Uint8Array): void;
  /** one generation: `<path>.bak`; returns its path, or undefined when `path` did not exist */
  backup(path: string): string | undefined;
  remove(path: string): void;
  lock(path: string): Promise<{ release(): void; brokeStale?: string }>;
  runImport(script: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string; timedOut: boolean; error?: string }>;
  /** whether sam.ldb has a computer object with sAMAccountName `<NAME>$` */
  adComputerExists(samLdb: string, name: string): Promise<boolean>;
  dnsResolves?(fqdn: string): Promise<boolean>;
  /** shown the plan; false cancels */
  confirm(plan: ProvisionPlan): Promise<boolean>;
  progress?(msg: string): void;
}

export interface ProvisionPlan {
  action: DeltaAction;
  hostname: string;
  school: string;
  /** the name in DHCP and AD (`<school>-<host>` for non-default schools) */
  qualifiedName: string;
  master: string;
  delta: string;
  /** the host's delta line after the change (null for delete) */
  deltaLine: string | null;
  /** its master line before and after (null when absent) */
  masterBefore: string | null;
  masterAfter: string | null;
  mergeStats: MergeStats;
}

export interface VerifyResult {
  /** null: not checked (role without a computer account) */
  ad_object_exists: boolean | null;
  /** null: no DHCP verify file configured, or it is missing */
  dhcp_configured: boolean | null;
  /** null: DNS check not configured */
  dns_a_exists: boolean | null;
  /** the name looked up for dns_a_exists (labops addition; not reported to the API) */
  dns_name?: string;
  expected_absent: boolean;
  ok: boolean;
}

export interface ProvisionHostResult {
  status: 'done' | 'dry-run' | 'nothing-to-do' | 'cancelled';
  plan?: ProvisionPlan;
  backups: string[];
  brokeStaleLock?: string;
  importOutput?: string;
  verify?: VerifyResult;
}

const MAC_RE = /^([0-9A-Fa-f]{2}[:-]){5}([0-9A-Fa-f]{2})$/;
const IMPORT_ERROR_PATTERNS = ['ERROR:', 'errors detected', 'syntax check failed'];

function decodeOrFail(bytes: Uint8Array, path: string): string {
  const r = decodeUtf8(bytes);
  if ('badLine' in r) throw new UsageError(`${path}: line ${r.badLine}: not valid UTF-8; nothing changed`);
  return r.text;
}

function findRow(file: DevicesFile, name: string) {
  const key = name.trim().toLowerCase();
  return file.lines.find((l) => l.kind === 'row' && l.fields.length >= 2 && hostKey(l.fields) === key);
}

/** Checks the request before anything is read or locked. */
export function checkRequest(r: ProvisionHostRequest): void {
  const bad = checkHostname(r.hostname);
  if (bad) throw new UsageError(bad);
  if (r.renameFrom !== undefined) {
    if (r.action !== 'update') throw new UsageError('--rename-from is only valid with update');
    const b = checkHostname(r.renameFrom);
    if (b) throw new UsageError(`--rename-from: ${b}`);
  }
  if (r.mac !== undefined && !MAC_RE.test(r.mac)) throw new UsageError(`invalid MAC address '${r.mac}': six hex pairs separated by ':' or '-'`);
  if (r.ip !== undefined && r.ip !== '' && r.ip !== 'DHCP' && !isValidIpv4(r.ip)) throw new UsageError(`invalid IP address '${r.ip}': a dotted IPv4 address or DHCP`);
  if (r.action === 'create' && !r.mac) throw new UsageError('create needs --mac');
  if (r.action === 'delete' && (r.mac || r.ip || r.room || r.config || r.role || r.pxe !== undefined)) {
    throw new UsageError('delete takes only the host name');
  }
}

/** The delta job: the given fields over the host's current row (delta first, then master). */
function buildJob(r: ProvisionHostRequest, master: DevicesFile, delta: DevicesFile): DeltaJob | undefined {
  const hostname = r.hostname.toLowerCase();
  if (r.action === 'delete') {
    return findRow(delta, hostname) || findRow(master, hostname) ? { action: 'delete', hostname } : undefined;
  }
  const source = r.renameFrom ?? hostname;
  const current = findRow(delta, source) ?? findRow(master, source);
  if (r.action === 'create') {
    const there = findRow(master, hostname) ?? findRow(delta, hostname);
    if (there) throw new UsageError(`host '${hostname}' already exists (line ${there.lineNo} of ${findRow(master, hostname) ? 'the master' : 'the delta'}); use update`);
  } else if (!current) {
    throw new UsageError(`host '${source}' not found in the master or the delta; use create`);
  } else if (r.renameFrom && r.renameFrom.toLowerCase() !== hostname && (findRow(master, hostname) || findRow(delta, hostname))) {
    throw new UsageError(`cannot rename to '${hostname}': that host already exists`);
  }
  const f = current?.fields ?? [];
  const config = r.config ?? f[2] ?? '';
  return {
    action: r.action,
    hostname,
    oldHostname: r.renameFrom?.toLowerCase(),
    mac: r.mac ?? f[3],
    ip: r.ip ?? f[4],
    room: r.room ?? f[0] ?? '',
    config,
    role: r.role ?? f[8] ?? '',
    // Like the API: PXE on when a config is set, unless given.
    pxe: r.pxe ?? (f[10] !== undefined && f[10] !== '' ? f[10] : config && config !== 'nopxe' ? 1 : 0),
  };
}

export async function provisionHost(req: ProvisionHostRequest, cfg: ProvisionHostConfig, ports: ProvisionPorts): Promise<ProvisionHostResult> {
  checkRequest(req);
  const lock = await ports.lock(cfg.lockFile);
  try {
    return await locked(lock.brokeStale);
  } finally {
    lock.release();
  }

  async function locked(brokeStale: string | undefined): Promise<ProvisionHostResult> {
    const result: ProvisionHostResult = { status: 'nothing-to-do', backups: [], brokeStaleLock: brokeStale };
    const masterBytes = ports.readFile(cfg.master);
    if (!masterBytes) throw new UsageError(`master devices file not found: ${cfg.master}; nothing changed`, { suggestion: 'check DEVICES_CSV_MASTER in the worker config or pass --master' });
    const masterText = decodeOrFail(masterBytes, cfg.master);
    const deltaBytes = ports.readFile(cfg.delta);
    const master = parseDevicesCsv(masterText);
    const delta = deltaBytes ? parseDevicesCsv(decodeOrFail(deltaBytes, cfg.delta)) : emptyDelta();

    const job = buildJob(req, master, delta);
    if (!job) return result;
    const deleted = new Set<string>();
    applyDeltaJob(delta, job, deleted);
    const merged = mergeDevices(master, delta, deleted);
    if (merged.conflicts.length) throw conflictError(merged.conflicts);
    const mergedText = serializeDevicesCsv(merged.file);
    const problems = validateDevices(parseDevicesCsv(mergedText)).filter((p) => p.severity === 'error');
    if (problems.length) {
      const list = problems.map((p) => `  ${cfg.master}:${p.line}: ${p.message}`).join('\n');
      throw new UsageError(`the merged devices file would make sophomorix-device fail (exit 88); nothing changed:\n${list}`);
    }

    const masterRow = (file: DevicesFile, name: string) => {
      const l = findRow(file, name);
      return l ? lineText(l) : null;
    };
    const deltaRow = findRow(delta, job.hostname);
    const plan: ProvisionPlan = {
      action: job.action,
      hostname: job.hostname,
      school: cfg.school,
      qualifiedName: qualifiedHostname(cfg.school, job.hostname),
      master: cfg.master,
      delta: cfg.delta,
      deltaLine: deltaRow ? lineText(deltaRow) : null,
      masterBefore: masterRow(master, job.oldHostname ?? job.hostname),
      masterAfter: masterRow(merged.file, job.hostname),
      mergeStats: merged.stats,
    };
    result.plan = plan;
    if (req.dryRun) {
      result.status = 'dry-run';
      return result;
    }
    if (!(await ports.confirm(plan))) {
      result.status = 'cancelled';
      return result;
    }

    result.backups.push(...writeDeviceFiles(cfg, ports, serializeDevicesCsv(delta), mergedText, deltaBytes));
    ports.progress?.(`wrote ${cfg.delta} and ${cfg.master}; running ${cfg.importScript} -s ${cfg.school}`);

    const imp = await runImportChecked(cfg, ports);
    result.importOutput = imp.output.slice(0, 4000);
    if (imp.failure) {
      throw new OperationFailed(`import-devices failed: ${imp.failure}`, {
        suggestion: `devices.csv was changed; the previous version is in ${cfg.master}.bak`,
      });
    }

    result.verify = await verifyHost(plan.action, plan.qualifiedName, job.role ?? '', cfg, ports);
    result.status = 'done';
    return result;
  }
}

/** Backups first, then the delta, then the master; a failed master write puts the delta back. */
function writeDeviceFiles(cfg: ProvisionHostConfig, ports: ProvisionPorts, deltaText: string, mergedText: string, deltaBefore: Uint8Array | undefined): string[] {
  const backups: string[] = [];
  for (const p of [cfg.master, cfg.delta]) {
    const b = ports.backup(p);
    if (b) backups.push(b);
  }
  ports.writeAtomic(cfg.delta, deltaText);
  try {
    ports.writeAtomic(cfg.master, mergedText);
  } catch (e) {
    if (deltaBefore) ports.writeAtomic(cfg.delta, deltaBefore);
    else ports.remove(cfg.delta);
    throw e;
  }
  return backups;
}

/** Runs `IMPORT_SCRIPT -s <school>` once; `failure` says why it counts as failed (exit code or an error pattern). */
async function runImportChecked(cfg: ProvisionHostConfig, ports: ProvisionPorts): Promise<{ output: string; failure?: string }> {
  const imp = await ports.runImport(cfg.importScript, ['-s', cfg.school], cfg.importTimeoutMs);
  const failure = imp.error
    ? imp.error
    : imp.timedOut
      ? `timed out after ${Math.round(cfg.importTimeoutMs / 1000)} s`
      : imp.code !== 0
        ? `exit code ${imp.code}`
        : IMPORT_ERROR_PATTERNS.find((p) => imp.output.includes(p));
  if (!failure) return { output: imp.output };
  const last = imp.output.trim().split('\n').slice(-1)[0];
  return { output: imp.output, failure: `${failure}${last ? ` (${last.slice(0, 200)})` : ''}` };
}

/** Checks the host after an import: AD computer object, DHCP host block, DNS A record (each when configured). */
async function verifyHost(action: DeltaAction, qualifiedName: string, role: string, cfg: ProvisionHostConfig, ports: ProvisionPorts): Promise<VerifyResult> {
  const absent = action === 'delete';
  ports.progress?.(`verifying ${qualifiedName}`);
  const ad = absent || roleHasComputerAccount(role) ? await ports.adComputerExists(cfg.samLdb, qualifiedName) : null;
  let dhcp: boolean | null = null;
  if (cfg.dhcpVerifyFile) {
    const bytes = ports.readFile(cfg.dhcpVerifyFile);
    if (bytes) {
      const want = qualifiedName.toLowerCase();
      try {
        dhcp = scanDhcpd(Buffer.from(bytes).toString('utf8')).hosts.some((h) => h.name.toLowerCase() === want);
      } catch {
        dhcp = false;
      }
    }
  }
  const fqdn = cfg.dnsDomain && ports.dnsResolves ? `${qualifiedName}.${cfg.dnsDomain}` : undefined;
  const dns = fqdn ? await ports.dnsResolves!(fqdn) : null;
  const want = !absent;
  const ok = [ad, dhcp, dns].every((v) => v === null || v === want);
  return { ad_object_exists: ad, dhcp_configured: dhcp, dns_a_exists: dns, ...(fqdn ? { dns_name: fqdn } : {}), expected_absent: absent, ok };
}

/** One job of a provision batch (a provision_host operation's options, already read). */
export interface BatchJobInput {
  /** the caller's key (the operation id) */
  key: string;
  job: DeltaJob;
}

export interface BatchJobOutcome {
  key: string;
  hostname: string;
  ok: boolean;
  error?: string;
  verify?: VerifyResult;
}

export interface ProvisionBatchResult {
  outcomes: BatchJobOutcome[];
  mergeStats?: MergeStats;
  /** the first 500 characters of the import's output, as the worker reports it */
  importOutput?: string;
  imported: boolean;
  dryRun: boolean;
  brokeStaleLock?: string;
}

/**
 * The worker's provision batch (NOTES §2.4) on the same path as `provision hosts`: under the lock,
 * apply every job to the delta (create and update replace the host's row, as the worker does), merge,
 * drop the jobs whose rows conflict with another host or would make sophomorix-device fail (the worker
 * wrote them anyway), write both files atomically once, run the import ONCE, then verify each host.
 * A missing master or a held lock throws (nothing written); an import failure fails every job.
 */
export async function provisionBatch(jobs: BatchJobInput[], cfg: ProvisionHostConfig, ports: ProvisionPorts, opts: { dryRun: boolean }): Promise<ProvisionBatchResult> {
  const lock = await ports.lock(cfg.lockFile);
  try {
    const masterBytes = ports.readFile(cfg.master);
    if (!masterBytes) throw new UsageError(`master devices file not found: ${cfg.master}`, { suggestion: 'check DEVICES_CSV_MASTER in the worker config' });
    const master = parseDevicesCsv(decodeOrFail(masterBytes, cfg.master));
    const deltaBytes = ports.readFile(cfg.delta);
    const deltaText = deltaBytes ? decodeOrFail(deltaBytes, cfg.delta) : undefined;
    const result: ProvisionBatchResult = { outcomes: [], imported: false, dryRun: opts.dryRun, brokeStaleLock: lock.brokeStale };
    const rejected = new Map<string, string>();
    const nameOf = (j: BatchJobInput) => j.job.hostname.trim().toLowerCase();
    let accepted = jobs.slice();
    let delta = emptyDelta();
    let merged: ReturnType<typeof mergeDevices> | undefined;
    let mergedText = '';
    // Each round drops the jobs behind a conflict or an invalid row; a few rounds settle any batch.
    for (let round = 0; round < 5; round++) {
      delta = deltaText !== undefined ? parseDevicesCsv(deltaText) : emptyDelta();
      const deleted = new Set<string>();
      for (const j of accepted) applyDeltaJob(delta, j.job, deleted);
      merged = mergeDevices(master, delta, deleted, { batchSize: jobs.length });
      const bad = new Map<string, string>();
      for (const c of merged.conflicts) if (!bad.has(c.hostname.toLowerCase())) bad.set(c.hostname.toLowerCase(), c.message);
      if (bad.size === 0) {
        mergedText = serializeDevicesCsv(merged.file);
        const reparsed = parseDevicesCsv(mergedText);
        const byLine = new Map(reparsed.lines.map((l) => [l.lineNo, l]));
        const orphans: string[] = [];
        for (const p of validateDevices(reparsed)) {
          if (p.severity !== 'error') continue;
          const name = byLine.get(p.line)?.fields[1]?.trim().toLowerCase() ?? '';
          if (accepted.some((j) => j.job.action !== 'delete' && nameOf(j) === name)) {
            if (!bad.has(name)) bad.set(name, `devices.csv row would make sophomorix-device fail: ${p.message}`);
          } else orphans.push(`${cfg.master}:${p.line}: ${p.message}`);
        }
        if (bad.size === 0 && orphans.length) {
          throw new UsageError(`the merged devices file would make sophomorix-device fail (exit 88); nothing changed: ${orphans.slice(0, 5).join('; ')}`);
        }
      }
      if (bad.size === 0) break;
      accepted = accepted.filter((j) => {
        const why = j.job.action === 'delete' ? undefined : bad.get(nameOf(j));
        if (why) rejected.set(j.key, why);
        return !why;
      });
    }
    result.mergeStats = merged!.stats;
    const outcome = (j: BatchJobInput, ok: boolean, error?: string, verify?: VerifyResult): BatchJobOutcome => ({ key: j.key, hostname: nameOf(j), ok, error, verify });
    for (const j of jobs) if (rejected.has(j.key)) result.outcomes.push(outcome(j, false, rejected.get(j.key)));
    if (accepted.length === 0) return result;
    if (opts.dryRun) {
      for (const j of accepted) result.outcomes.push(outcome(j, true));
      return result;
    }

    writeDeviceFiles(cfg, ports, serializeDevicesCsv(delta), mergedText, deltaBytes);
    ports.progress?.(`[Provision] Wrote merged devices.csv (${merged!.stats.total_merged_lines} lines); running ${cfg.importScript} -s ${cfg.school} for ${accepted.length} job(s)`);
    const imp = await runImportChecked(cfg, ports);
    result.imported = true;
    result.importOutput = imp.output.slice(0, 500);
    if (imp.failure) {
      for (const j of accepted) result.outcomes.push(outcome(j, false, `import-devices failed: ${imp.failure}`));
      return result;
    }
    for (const j of accepted) {
      const v = await verifyHost(j.job.action, qualifiedHostname(cfg.school, nameOf(j)), j.job.role ?? '', cfg, ports);
      result.outcomes.push(outcome(j, v.ok, v.ok ? undefined : `Verify failed: ${pythonJsonDumps(workerVerify(v))}`, v));
    }
    return result;
  } finally {
    lock.release();
  }
}

/** The verify object in the worker's shape (§2.4 step 14): dns_ptr_exists is not checked by labops. */
export function workerVerify(v: VerifyResult): Record<string, boolean | null> {
  const out: Record<string, boolean | null> = { ad_object_exists: v.ad_object_exists, dns_a_exists: v.dns_a_exists, dhcp_configured: v.dhcp_configured, dns_ptr_exists: null };
  if (v.expected_absent) out.expected_absent = true;
  return out;
}

/** The DNS domain of the A-record check, and where it came from. */
export interface DnsDomain {
  /** undefined: DNS is not checked */
  domain?: string;
  source: 'LINBO_DOMAIN' | 'Samba realm (LINBO_DOMAIN=auto)' | 'default' | 'not set';
}

/**
 * LINBO_DOMAIN, read the same way by `provision hosts` and the DC job consumer. `auto` is this DC's AD
 * DNS domain, Samba's realm lowercased, read from sam.ldb. The worker meant the same: it parsed
 * `samba-tool domain info 127.0.0.1` for a `Realm:` or `Domain name:` line, but that command prints
 * `Domain           : lab.test`, so it always fell back to the literal `auto` (`host pc01.auto`). A domain
 * set anywhere (file, environment, --domain) is used as it is; unset, DNS is checked only when `check`
 * asks for it, against the worker's default (linuxmuster.lan rarely resolves).
 */
export async function resolveDnsDomain(
  wc: Pick<MacctWorkerConfig, 'linboDomain' | 'sources' | 'samLdb'>,
  o: { check?: boolean; readAdDomain: (samLdb: string) => Promise<string> },
): Promise<DnsDomain> {
  if (wc.linboDomain.trim().toLowerCase() === 'auto') {
    try {
      return { domain: await o.readAdDomain(wc.samLdb), source: 'Samba realm (LINBO_DOMAIN=auto)' };
    } catch (e) {
      const why = `LINBO_DOMAIN=auto: cannot read this DC's AD domain from ${wc.samLdb}: ${(e as Error).message}`;
      const suggestion = 'set LINBO_DOMAIN to the DNS domain, or SAM_LDB to the sam.ldb of this DC';
      if (e instanceof AuthFailed) throw new AuthFailed(why, { suggestion: e.suggestion ?? suggestion });
      throw new UsageError(why, { suggestion });
    }
  }
  if (wc.sources.linbo_domain !== 'default') return { domain: wc.linboDomain, source: 'LINBO_DOMAIN' };
  return o.check ? { domain: wc.linboDomain, source: 'default' } : { source: 'not set' };
}

/**
 * The provisioning settings of the worker config, DNS domain resolved: what `provision hosts` and the
 * consumer's provision batches run with. `checkDns` checks DNS against the default domain when
 * LINBO_DOMAIN is not set (`provision hosts --dns-server`).
 */
export async function provisionHostConfig(
  wc: MacctWorkerConfig,
  o: { importTimeoutMs: number; checkDns?: boolean; env?: NodeJS.ProcessEnv; readAdDomain?: (samLdb: string) => Promise<string> },
): Promise<{ cfg: ProvisionHostConfig; dns: DnsDomain }> {
  const readAdDomain = o.readAdDomain ?? (async (samLdb: string) => (await import('../core/samba/ldb.js')).readAdDnsDomain(samLdb, { env: o.env }));
  const dns = await resolveDnsDomain(wc, { check: o.checkDns, readAdDomain });
  const cfg: ProvisionHostConfig = {
    school: wc.school,
    master: wc.devicesCsvMaster,
    delta: wc.devicesCsvDelta,
    importScript: wc.importScript,
    lockFile: wc.lockFile,
    samLdb: wc.samLdb,
    dhcpVerifyFile: wc.dhcpVerifyFile,
    dnsDomain: dns.domain,
    importTimeoutMs: o.importTimeoutMs,
  };
  return { cfg, dns };
}

function conflictError(conflicts: MergeConflict[]): UsageError {
  return new UsageError(`${conflicts.map((c) => c.message).join('; ')}; nothing changed`, { context: { conflicts } });
}

interface ChildResult {
  code: number | null;
  output: string;
  timedOut: boolean;
  error?: string;
}

/** Runs a program to its end or its time limit (then SIGKILL), stdout and stderr together; `env` is the child's own (childEnv). */
function runChild(spawn: typeof SpawnFn, cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, output: '', timedOut: false, error: (e as NodeJS.ErrnoException).code === 'ENOENT' ? `script not found: ${cmd}` : e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output: Buffer.concat(chunks).toString('utf8'), timedOut });
    });
  });
}

/** Real ports: files, lock, child processes, ldbsearch, DNS. */
export async function systemProvisionPorts(o: {
  env: NodeJS.ProcessEnv;
  confirm: (plan: ProvisionPlan) => Promise<boolean>;
  progress?: (msg: string) => void;
  lockWaitMs: number;
  dnsServer?: string;
  sleep: (ms: number) => Promise<void>;
}): Promise<ProvisionPorts> {
  const [{ readFileSync, mkdirSync, unlinkSync, existsSync }, { dirname }, { spawn }, atomic, { acquireLock }, { childEnv }] = await Promise.all([
    import('node:fs'),
    import('node:path'),
    import('node:child_process'),
    import('../core/fs/atomic-write.js'),
    import('../core/fs/lock.js'),
    import('../core/child-env.js'),
  ]);
  const which = (name: string) => {
    for (const d of [...(o.env.PATH ?? '').split(':').filter(Boolean), '/usr/bin', '/usr/sbin']) if (existsSync(`${d}/${name}`)) return `${d}/${name}`;
    return undefined;
  };
  // the import script and ldbsearch get PATH and the locale, never labops' environment (the worker's API_KEY, REDIS_PASSWORD)
  const exec = (cmd: string, args: string[], timeoutMs: number) => runChild(spawn, cmd, args, childEnv(o.env), timeoutMs);
  return {
    readFile(path) {
      try {
        return readFileSync(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
      }
    },
    writeAtomic(path, data) {
      mkdirSync(dirname(path), { recursive: true });
      atomic.writeFileAtomic(path, data);
    },
    backup: (path) => atomic.backupFile(path),
    remove: (path) => unlinkSync(path),
    lock: (path) => acquireLock(path, { waitMs: o.lockWaitMs, sleep: o.sleep, command: 'labops provision hosts' }),
    runImport: exec,
    async adComputerExists(samLdb, name) {
      const ldbsearch = which('ldbsearch');
      if (!ldbsearch) throw new OperationFailed('ldbsearch not found (install ldb-tools) — cannot verify the AD computer object');
      const r = await exec(ldbsearch, ['-H', samLdb, '--', `(sAMAccountName=${name.toUpperCase()}$)`, 'dn'], 30_000);
      if (r.code !== 0) throw new OperationFailed(`ldbsearch on ${samLdb} failed: ${r.error ?? r.output.trim().split('\n').slice(-1)[0] ?? `exit ${r.code}`}`);
      return /^dn: /m.test(r.output);
    },
    async dnsResolves(fqdn) {
      const { Resolver } = await import('node:dns/promises');
      const resolver = new Resolver({ timeout: 2000, tries: 1 });
      if (o.dnsServer) resolver.setServers([o.dnsServer]);
      for (let i = 0; i < 5; i++) {
        try {
          if ((await resolver.resolve4(fqdn)).length) return true;
        } catch {
          // not (yet) there
        }
        if (i < 4) await o.sleep(2000);
      }
      return false;
    },
    confirm: o.confirm,
    progress: o.progress,
  };
}
