// labops provision hosts: the worker's provision batch (NOTES §2.4) for one host, run by an operator.
// Under a lock: apply the job to the delta, merge into the master, validate the result with the rules
// of sophomorix-device (nothing is written when a row would make it exit 88), write both files
// atomically with one backup generation, run linuxmuster-import-devices -s <school>, then verify the
// AD computer object (sam.ldb), the DHCP host block and, when configured, DNS. Never prints.
import { OperationFailed, UsageError } from '../domain/errors.js';
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

    // Write: backups first, then the delta, then the master; a failed master write puts the delta back.
    for (const p of [cfg.master, cfg.delta]) {
      const b = ports.backup(p);
      if (b) result.backups.push(b);
    }
    ports.writeAtomic(cfg.delta, serializeDevicesCsv(delta));
    try {
      ports.writeAtomic(cfg.master, mergedText);
    } catch (e) {
      if (deltaBytes) ports.writeAtomic(cfg.delta, deltaBytes);
      else ports.remove(cfg.delta);
      throw e;
    }
    ports.progress?.(`wrote ${cfg.delta} and ${cfg.master}; running ${cfg.importScript} -s ${cfg.school}`);

    const imp = await ports.runImport(cfg.importScript, ['-s', cfg.school], cfg.importTimeoutMs);
    result.importOutput = imp.output.slice(0, 4000);
    const failure = imp.error
      ? imp.error
      : imp.timedOut
        ? `timed out after ${Math.round(cfg.importTimeoutMs / 1000)} s`
        : imp.code !== 0
          ? `exit code ${imp.code}`
          : IMPORT_ERROR_PATTERNS.find((p) => imp.output.includes(p));
    if (failure) {
      const last = imp.output.trim().split('\n').slice(-1)[0];
      throw new OperationFailed(`import-devices failed: ${failure}${last ? ` (${last.slice(0, 200)})` : ''}`, {
        suggestion: `devices.csv was changed; the previous version is in ${cfg.master}.bak`,
      });
    }

    result.verify = await verify(plan, job.role ?? '');
    result.status = 'done';
    return result;
  }

  async function verify(plan: ProvisionPlan, role: string): Promise<VerifyResult> {
    const absent = plan.action === 'delete';
    ports.progress?.(`verifying ${plan.qualifiedName}`);
    const ad = absent || roleHasComputerAccount(role) ? await ports.adComputerExists(cfg.samLdb, plan.qualifiedName) : null;
    let dhcp: boolean | null = null;
    if (cfg.dhcpVerifyFile) {
      const bytes = ports.readFile(cfg.dhcpVerifyFile);
      if (bytes) {
        const want = plan.qualifiedName.toLowerCase();
        try {
          dhcp = scanDhcpd(Buffer.from(bytes).toString('utf8')).hosts.some((h) => h.name.toLowerCase() === want);
        } catch {
          dhcp = false;
        }
      }
    }
    const dns = cfg.dnsDomain && ports.dnsResolves ? await ports.dnsResolves(`${plan.qualifiedName}.${cfg.dnsDomain}`) : null;
    const want = !absent;
    const ok = [ad, dhcp, dns].every((v) => v === null || v === want);
    return { ad_object_exists: ad, dhcp_configured: dhcp, dns_a_exists: dns, expected_absent: absent, ok };
  }
}

function conflictError(conflicts: MergeConflict[]): UsageError {
  return new UsageError(`${conflicts.map((c) => c.message).join('; ')}; nothing changed`, { context: { conflicts } });
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
  const [{ readFileSync, mkdirSync, unlinkSync, existsSync }, { dirname }, { spawn }, atomic, { acquireLock }] = await Promise.all([
    import('node:fs'),
    import('node:path'),
    import('node:child_process'),
    import('../core/fs/atomic-write.js'),
    import('../core/fs/lock.js'),
  ]);
  const which = (name: string) => {
    for (const d of [...(o.env.PATH ?? '').split(':').filter(Boolean), '/usr/bin', '/usr/sbin']) if (existsSync(`${d}/${name}`)) return `${d}/${name}`;
    return undefined;
  };
  const exec = (cmd: string, args: string[], timeoutMs: number) =>
    new Promise<{ code: number | null; output: string; timedOut: boolean; error?: string }>((resolve) => {
      const child = spawn(cmd, args, { env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
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
      const r = await exec(ldbsearch, ['-H', samLdb, `(sAMAccountName=${name.toUpperCase()}$)`, 'dn'], 30_000);
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
