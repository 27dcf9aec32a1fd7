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
  formatDeltaFields,
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

/** The provision lock as the ops hold it. */
export interface ProvisionLock {
  release(): void;
  /** a stale lock that was broken to take this one, for the operator */
  brokeStale?: string;
  /** the lock stays held while this child's process group runs, even after this process dies */
  holdWhileRunning?(pid: number, command: string): void;
}

export interface ProvisionPorts {
  readFile(path: string): Uint8Array | undefined;
  /** writes the files together (one `.bak` generation each); after a kill at any point recoverFiles puts the old set back */
  replaceFiles(files: { path: string; data: string }[], what: string): string[];
  /** under the lock, before reading: rolls back a replaceFiles a killed run left unfinished, removes its temp files; says what it did */
  recoverFiles(paths: readonly string[]): string | undefined;
  lock(path: string): Promise<ProvisionLock>;
  /** `onStart` gets the child's pid (its own process group) as soon as it runs */
  runImport(script: string, args: string[], timeoutMs: number, onStart?: (pid: number) => void): Promise<{ code: number | null; output: string; timedOut: boolean; error?: string }>;
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
  /** an interrupted change of an earlier run that was rolled back first */
  recovered?: string;
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
  const current = r.action === 'create' ? undefined : (findRow(delta, source) ?? findRow(master, source));
  if (r.action === 'update' && !current) throw new UsageError(`host '${source}' not found in the master or the delta; use create`);
  if (r.renameFrom && r.renameFrom.toLowerCase() !== hostname && (findRow(master, hostname) || findRow(delta, hostname))) {
    throw new UsageError(`cannot rename to '${hostname}': that host already exists`);
  }
  const f = current?.fields ?? [];
  const config = r.config ?? f[2] ?? '';
  const job: DeltaJob = {
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
  if (r.action === 'create') checkCreate(job, master, delta);
  return job;
}

/**
 * A create of a host that exists is refused, unless the delta holds exactly the row this create writes: then it is
 * the same create run again (an earlier run was killed or its import failed), and running it again converges.
 */
function checkCreate(job: DeltaJob, master: DevicesFile, delta: DevicesFile): void {
  const inDelta = findRow(delta, job.hostname);
  const wanted = formatDeltaFields(job);
  if (inDelta && inDelta.fields.length === wanted.length && inDelta.fields.every((v, i) => v === wanted[i])) return;
  const there = findRow(master, job.hostname) ?? inDelta;
  if (there) throw new UsageError(`host '${job.hostname}' already exists (line ${there.lineNo} of ${findRow(master, job.hostname) ? 'the master' : 'the delta'}); use update`);
}

export async function provisionHost(req: ProvisionHostRequest, cfg: ProvisionHostConfig, ports: ProvisionPorts): Promise<ProvisionHostResult> {
  checkRequest(req);
  const lock = await ports.lock(cfg.lockFile);
  try {
    const recovered = ports.recoverFiles(deviceFiles(cfg));
    if (recovered) ports.progress?.(`warning: ${recovered}`);
    return await provisionLocked(req, cfg, ports, lock, { status: 'nothing-to-do', backups: [], brokeStaleLock: lock.brokeStale, recovered });
  } finally {
    lock.release();
  }
}

/** The files one change writes together: the master first (its journal lives beside it), then the delta. */
const deviceFiles = (cfg: ProvisionHostConfig) => [cfg.master, cfg.delta];

/** The master (required) and the delta (an empty one when absent), read and parsed. */
function readDeviceFiles(cfg: ProvisionHostConfig, ports: ProvisionPorts, hint: string): { master: DevicesFile; delta: DevicesFile; deltaText?: string } {
  const masterBytes = ports.readFile(cfg.master);
  if (!masterBytes) throw new UsageError(`master devices file not found: ${cfg.master}; nothing changed`, { suggestion: hint });
  const master = parseDevicesCsv(decodeOrFail(masterBytes, cfg.master));
  const deltaBytes = ports.readFile(cfg.delta);
  const deltaText = deltaBytes ? decodeOrFail(deltaBytes, cfg.delta) : undefined;
  return { master, delta: deltaText !== undefined ? parseDevicesCsv(deltaText) : emptyDelta(), deltaText };
}

/** The job applied to the delta and merged; conflicts and rows sophomorix-device would refuse stop here. */
function planChange(job: DeltaJob, master: DevicesFile, delta: DevicesFile, cfg: ProvisionHostConfig): { plan: ProvisionPlan; deltaText: string; mergedText: string } {
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
  const rowText = (file: DevicesFile, name: string) => {
    const l = findRow(file, name);
    return l ? lineText(l) : null;
  };
  const plan: ProvisionPlan = {
    action: job.action,
    hostname: job.hostname,
    school: cfg.school,
    qualifiedName: qualifiedHostname(cfg.school, job.hostname),
    master: cfg.master,
    delta: cfg.delta,
    deltaLine: rowText(delta, job.hostname),
    masterBefore: rowText(master, job.oldHostname ?? job.hostname),
    masterAfter: rowText(merged.file, job.hostname),
    mergeStats: merged.stats,
  };
  return { plan, deltaText: serializeDevicesCsv(delta), mergedText };
}

async function provisionLocked(req: ProvisionHostRequest, cfg: ProvisionHostConfig, ports: ProvisionPorts, lock: ProvisionLock, result: ProvisionHostResult): Promise<ProvisionHostResult> {
  const { master, delta } = readDeviceFiles(cfg, ports, 'check DEVICES_CSV_MASTER in the worker config or pass --master');
  const job = buildJob(req, master, delta);
  if (!job) return result;
  const { plan, deltaText, mergedText } = planChange(job, master, delta, cfg);
  result.plan = plan;
  if (req.dryRun) return { ...result, status: 'dry-run' };
  if (!(await ports.confirm(plan))) return { ...result, status: 'cancelled' };

  result.backups.push(...ports.replaceFiles([{ path: cfg.master, data: mergedText }, { path: cfg.delta, data: deltaText }], `provision hosts ${job.action} ${job.hostname}`));
  ports.progress?.(`wrote ${cfg.delta} and ${cfg.master}; running ${cfg.importScript} -s ${cfg.school}`);

  const imp = await runImportChecked(cfg, ports, lock);
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

/** Runs `IMPORT_SCRIPT -s <school>` once; `failure` says why it counts as failed (exit code or an error pattern). */
async function runImportChecked(cfg: ProvisionHostConfig, ports: ProvisionPorts, lock: ProvisionLock): Promise<{ output: string; failure?: string }> {
  // The lock lives as long as the import's process group: a run killed meanwhile leaves it held until the import ends.
  const imp = await ports.runImport(cfg.importScript, ['-s', cfg.school], cfg.importTimeoutMs, (pid) => lock.holdWhileRunning?.(pid, cfg.importScript));
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
  /** an interrupted change of an earlier run that was rolled back first */
  recovered?: string;
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
    const recovered = ports.recoverFiles(deviceFiles(cfg));
    const { master, deltaText } = readDeviceFiles(cfg, ports, 'check DEVICES_CSV_MASTER in the worker config');
    const result: ProvisionBatchResult = { outcomes: [], imported: false, dryRun: opts.dryRun, brokeStaleLock: lock.brokeStale, recovered };
    const batch = settleBatch(jobs, master, deltaText, cfg);
    result.mergeStats = batch.merged.stats;
    const outcome = (j: BatchJobInput, ok: boolean, error?: string, verify?: VerifyResult): BatchJobOutcome => ({ key: j.key, hostname: batchHost(j), ok, error, verify });
    for (const j of jobs) if (batch.rejected.has(j.key)) result.outcomes.push(outcome(j, false, batch.rejected.get(j.key)));
    const { accepted } = batch;
    if (accepted.length === 0) return result;
    if (opts.dryRun) {
      for (const j of accepted) result.outcomes.push(outcome(j, true));
      return result;
    }

    ports.replaceFiles([{ path: cfg.master, data: batch.mergedText }, { path: cfg.delta, data: serializeDevicesCsv(batch.delta) }], `a provision batch of ${accepted.length} job(s)`);
    ports.progress?.(`[Provision] Wrote merged devices.csv (${batch.merged.stats.total_merged_lines} lines); running ${cfg.importScript} -s ${cfg.school} for ${accepted.length} job(s)`);
    const imp = await runImportChecked(cfg, ports, lock);
    result.imported = true;
    result.importOutput = imp.output.slice(0, 500);
    if (imp.failure) {
      for (const j of accepted) result.outcomes.push(outcome(j, false, `import-devices failed: ${imp.failure}`));
      return result;
    }
    for (const j of accepted) {
      const v = await verifyHost(j.job.action, qualifiedHostname(cfg.school, batchHost(j)), j.job.role ?? '', cfg, ports);
      result.outcomes.push(outcome(j, v.ok, v.ok ? undefined : `Verify failed: ${pythonJsonDumps(workerVerify(v))}`, v));
    }
    return result;
  } finally {
    lock.release();
  }
}

const batchHost = (j: BatchJobInput) => j.job.hostname.trim().toLowerCase();

interface SettledBatch {
  accepted: BatchJobInput[];
  /** job key -> why it was dropped */
  rejected: Map<string, string>;
  delta: DevicesFile;
  merged: ReturnType<typeof mergeDevices>;
  mergedText: string;
}

/**
 * The batch applied to the delta and merged, without the jobs whose rows conflict with another host or would make
 * sophomorix-device fail (the worker wrote them anyway): each round drops the jobs behind a conflict or an invalid
 * row, until none is left. A row of nobody in the batch that sophomorix-device would refuse stops the batch.
 */
function settleBatch(jobs: BatchJobInput[], master: DevicesFile, deltaText: string | undefined, cfg: ProvisionHostConfig): SettledBatch {
  const rejected = new Map<string, string>();
  let accepted = jobs.slice();
  for (;;) {
    const delta = deltaText !== undefined ? parseDevicesCsv(deltaText) : emptyDelta();
    const deleted = new Set<string>();
    for (const j of accepted) applyDeltaJob(delta, j.job, deleted);
    const merged = mergeDevices(master, delta, deleted, { batchSize: jobs.length });
    const bad = new Map<string, string>();
    for (const c of merged.conflicts) if (!bad.has(c.hostname.toLowerCase())) bad.set(c.hostname.toLowerCase(), c.message);
    const mergedText = serializeDevicesCsv(merged.file);
    const others = invalidRows(mergedText, accepted, bad, cfg);
    const drop = accepted.filter((j) => j.job.action !== 'delete' && bad.has(batchHost(j)));
    if (drop.length === 0) {
      if (others.length) throw new UsageError(`the merged devices file would make sophomorix-device fail (exit 88); nothing changed: ${others.slice(0, 5).join('; ')}`);
      return { accepted, rejected, delta, merged, mergedText };
    }
    for (const j of drop) rejected.set(j.key, bad.get(batchHost(j))!);
    accepted = accepted.filter((j) => !drop.includes(j));
  }
}

/** Rows of the merged file sophomorix-device would refuse: a batch job's go to `bad`; the others' are returned. */
function invalidRows(mergedText: string, accepted: readonly BatchJobInput[], bad: Map<string, string>, cfg: ProvisionHostConfig): string[] {
  const reparsed = parseDevicesCsv(mergedText);
  const byLine = new Map(reparsed.lines.map((l) => [l.lineNo, l]));
  const others: string[] = [];
  for (const p of validateDevices(reparsed)) {
    if (p.severity !== 'error') continue;
    const name = byLine.get(p.line)?.fields[1]?.trim().toLowerCase() ?? '';
    if (accepted.some((j) => j.job.action !== 'delete' && batchHost(j) === name)) {
      if (!bad.has(name)) bad.set(name, `devices.csv row would make sophomorix-device fail: ${p.message}`);
    } else others.push(`${cfg.master}:${p.line}: ${p.message}`);
  }
  return others;
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

// The program in a group of its own starts only once `onStart` has recorded it (the gate reads one line): a holder
// killed between spawn and that record would otherwise leave an import running that no lock knows of. No line
// (the holder died first) and the program never starts.
const GATED_EXEC = 'IFS= read -r go || exit 75; command -v "$0" >/dev/null 2>&1 || { echo "labops: script not found: $0" >&2; exit 127; }; exec "$0" "$@" </dev/null';
const gateNotFound = (code: number | null, output: string, cmd: string) => code === 127 && output.trim() === `labops: script not found: ${cmd}`;

/**
 * Runs a program to its end or its time limit (then SIGKILL), stdout and stderr together; `env` is the child's own (childEnv). `group`: in a process
 * group of its own (its pid), reported to `onStart`, and the whole group is killed at the time limit.
 */
function runChild(spawn: typeof SpawnFn, cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number, group?: { onStart?: (pid: number) => void }): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = group
      ? spawn('/bin/sh', ['-c', GATED_EXEC, cmd, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true })
      : spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (group && child.pid !== undefined) {
      group.onStart?.(child.pid);
      child.stdin?.on('error', () => undefined); // the gate ended early (script not found): its exit code says why
      child.stdin?.end('go\n');
    }
    const chunks: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (group && child.pid !== undefined) killGroup(child.pid);
      else child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, output: '', timedOut: false, error: (e as NodeJS.ErrnoException).code === 'ENOENT' ? `script not found: ${cmd}` : e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const output = Buffer.concat(chunks).toString('utf8');
      if (group && gateNotFound(code, output, cmd)) return resolve({ code: null, output: '', timedOut, error: `script not found: ${cmd}` });
      resolve({ code, output, timedOut });
    });
  });
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Real ports: files, lock, child processes, ldbsearch, DNS. */
export async function systemProvisionPorts(o: {
  env: NodeJS.ProcessEnv;
  confirm: (plan: ProvisionPlan) => Promise<boolean>;
  progress?: (msg: string) => void;
  lockWaitMs: number;
  /** who holds the lock, as its stale-lock message names it (e.g. labops dc jobs consumer dc-01) */
  lockOwner: string;
  dnsServer?: string;
  sleep: (ms: number) => Promise<void>;
}): Promise<ProvisionPorts> {
  const [{ readFileSync, mkdirSync, existsSync }, { dirname }, { spawn }, fileSet, { acquireLock }, { childEnv }] = await Promise.all([
    import('node:fs'),
    import('node:path'),
    import('node:child_process'),
    import('../core/fs/file-set.js'),
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
    replaceFiles(files, what) {
      for (const f of files) mkdirSync(dirname(f.path), { recursive: true });
      return fileSet.replaceFileSet(files, what);
    },
    recoverFiles: (paths) => fileSet.recoverFileSet(paths),
    lock: (path) => acquireLock(path, { waitMs: o.lockWaitMs, sleep: o.sleep, command: o.lockOwner }),
    runImport: (cmd, args, timeoutMs, onStart) => runChild(spawn, cmd, args, childEnv(o.env), timeoutMs, { onStart }),
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
