// labops dhcp-patch: the LINBO Docker import hook (NOTES §6). Points the PXE hosts of the delta CSV at
// the Docker TFTP server by patching `next-server` into linuxmuster's DHCP devices file, validates with
// `dhcpd -t` and restores the original bytes when that fails. Never prints: log lines go through ports.
// Kept free of heavy imports: it runs on every device import.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { isIPv4 } from 'node:net';
import { OperationFailed, UsageError } from '../domain/errors.js';
import { DhcpdSyntaxError } from '../domain/dhcpd-conf/errors.js';
import { scanDhcpd } from '../domain/dhcpd-conf/scan.js';
import { planNextServerPatch, type HostPatch, type NextServerPlan } from '../domain/dhcpd-conf/next-server-patch.js';
import { decodeUtf8 } from '../domain/devices-csv/parse.js';
import { selectPxeHosts } from '../domain/devices-csv/hook-selection.js';
import { isDefaultSchool, qualifiedHostname } from '../domain/devices-csv/paths.js';
import type { DhcpHookConfig } from '../core/config/linbo-docker-dhcp-conf.js';

export const HOOK_TAG = 'linbo-docker-dhcp';

export interface DhcpPatchPorts {
  /** file bytes, or undefined when it does not exist */
  readFile(path: string): Uint8Array | undefined;
  /**
   * atomic replace; rejects with OperationFailed, the file unchanged, when it cannot. The data is taken
   * before this returns, so the caller may work while it reaches the disk.
   */
  writeAtomic(path: string, data: string | Uint8Array, tempDir?: string): Promise<void>;
  removeStaleTemps(dir: string, target: string): string[];
  appendLog(path: string, text: string): void;
  realpath(path: string): string;
  findDhcpd(): string | undefined;
  runDhcpd(dhcpd: string, conf: string): Promise<{ code: number; output: string }>;
  now(): Date;
  /**
   * the run's log lines (without dhcpd's output), once, when they are appended to the log file: the hook
   * tees its log to stdout. Called also when the run fails.
   */
  tee?(text: string): void;
}

export type DhcpPatchStatus = 'nothing-to-do' | 'patched' | 'unchanged' | 'dry-run';
export type ValidationStatus = 'passed' | 'not-included' | 'no-dhcpd' | 'not-run';

export interface DhcpPatchHost extends HostPatch {
  /** the name in the delta (without school prefix) */
  deltaName: string;
}

export interface DhcpPatchResult {
  status: DhcpPatchStatus;
  /** why there was nothing to do */
  reason?: string;
  school: string;
  nextServer?: string;
  deltaCsv: string;
  devicesDhcp: string;
  hosts: DhcpPatchHost[];
  /** PXE hosts of the delta with no host block in the DHCP file */
  missing: string[];
  patched: number;
  skipped: number;
  errors: number;
  validation: ValidationStatus;
  dryRun: boolean;
  /** the log lines of this run, as appended to the log file */
  log: string[];
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `[YYYY-MM-DD HH:MM:SS] [linbo-docker-dhcp] <msg>` in local time, like the hook's `date`. */
export function hookLogLine(d: Date, msg: string): string {
  const ts = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return `[${ts}] [${HOOK_TAG}] ${msg}`;
}

function decodeOrFail(bytes: Uint8Array, path: string): string {
  const r = decodeUtf8(bytes);
  if ('badLine' in r) throw new UsageError(`${path}: line ${r.badLine}: not valid UTF-8; nothing changed`);
  return r.text;
}

/** Whether dhcpd.conf reaches `target` through include statements (followed recursively). */
export function isIncluded(ports: DhcpPatchPorts, dhcpdConf: string, target: string): boolean {
  const real = (p: string) => {
    try {
      return ports.realpath(p);
    } catch {
      return p;
    }
  };
  const want = real(target);
  const seen = new Set<string>();
  const queue = [dhcpdConf];
  while (queue.length && seen.size < 200) {
    const file = real(queue.shift()!);
    if (seen.has(file)) continue;
    seen.add(file);
    const bytes = ports.readFile(file);
    if (!bytes) continue;
    const text = Buffer.from(bytes).toString('utf8');
    let paths: string[];
    try {
      paths = scanDhcpd(text).includes.map((i) => i.path);
    } catch {
      // a broken file: dhcpd -t will say so; still follow what looks like includes
      paths = [...text.matchAll(/^\s*include\s+"([^"]+)"\s*;/gm)].map((m) => m[1]!);
    }
    for (const p of paths) {
      if (real(p) === want) return true;
      queue.push(p);
    }
  }
  return false;
}

export async function dhcpPatch(config: DhcpHookConfig, opts: { dryRun: boolean }, ports: DhcpPatchPorts): Promise<DhcpPatchResult> {
  const log = new HookLog(ports);
  const result = emptyResult(config, opts.dryRun, log.lines);
  // Like the hook: no config file and no address on the command line means this DC does not use it.
  if (!config.file && !config.linboDockerIp) {
    result.reason = 'no config file and no --next-server';
    return result;
  }
  try {
    return await new DevicesFilePatch(config, opts.dryRun, ports, log, result).run();
  } catch (e) {
    if (e instanceof UsageError || e instanceof OperationFailed) log.say(`ERROR: ${e.message}`);
    throw e;
  } finally {
    if (!opts.dryRun) log.flush(config.logFile);
  }
}

function emptyResult(config: DhcpHookConfig, dryRun: boolean, log: string[]): DhcpPatchResult {
  return {
    status: 'nothing-to-do',
    school: config.school,
    nextServer: config.linboDockerIp,
    deltaCsv: config.deltaCsv,
    devicesDhcp: config.devicesDhcp,
    hosts: [],
    missing: [],
    patched: 0,
    skipped: 0,
    errors: 0,
    validation: 'not-run',
    dryRun,
    log,
  };
}

/** The run's log lines, stamped like the hook's `date`; written to the log file and the tee once, at the end. */
class HookLog {
  readonly lines: string[] = [];
  /** entries that are dhcpd's output: in the log file, not in the tee (the hook redirects only that to the file) */
  private readonly fileOnly = new Set<number>();
  // One Date formatting per second, not per line: a big import logs one line per host.
  private stampSecond = -1;
  private stampPrefix = '';

  constructor(private readonly ports: DhcpPatchPorts) {}

  say(msg: string, now = this.ports.now()): void {
    const sec = Math.floor(now.getTime() / 1000);
    if (sec !== this.stampSecond) {
      this.stampSecond = sec;
      this.stampPrefix = hookLogLine(now, '');
    }
    this.lines.push(this.stampPrefix + msg);
  }

  /** dhcpd's output, unstamped and kept out of the tee */
  addDhcpdOutput(text: string): void {
    this.fileOnly.add(this.lines.push(text) - 1);
  }

  flush(logFile: string): void {
    if (this.lines.length === 0) return;
    // joined once for both: a big import logs a line per host
    const text = this.lines.join('\n');
    try {
      this.ports.appendLog(logFile, `${text}\n`);
    } catch {
      // the log is best effort; the result and exit code carry the outcome
    }
    this.ports.tee?.(this.fileOnly.size ? this.lines.filter((_, i) => !this.fileOnly.has(i)).join('\n') : text);
  }
}

/** LINBO_DOCKER_IP, which must be an IPv4 address. */
function nextServerOf(config: DhcpHookConfig): string {
  const ip = config.linboDockerIp;
  if (!ip) throw new UsageError(`LINBO_DOCKER_IP not set in ${config.file}`);
  if (!isIPv4(ip)) throw new UsageError(`LINBO_DOCKER_IP '${ip}' is not an IPv4 address`);
  return ip;
}

/** The banner dhcpd -t prints before what it has to say. */
const DHCPD_BANNER = /^(Internet Systems|Copyright|All rights|For info|Config file|Database file|PID file)/;

/** The first line of dhcpd -t's output that is not its banner (the error, for the message), if any. */
export function dhcpdErrorLine(output: string): string | undefined {
  return output
    .trim()
    .split('\n')
    .find((l) => l && !DHCPD_BANNER.test(l));
}

/** One patch of the devices file, step by step as the hook does it; the result is filled in as the steps run. */
class DevicesFilePatch {
  constructor(
    private readonly config: DhcpHookConfig,
    private readonly dryRun: boolean,
    private readonly ports: DhcpPatchPorts,
    private readonly log: HookLog,
    private readonly result: DhcpPatchResult,
  ) {}

  async run(): Promise<DhcpPatchResult> {
    const { config, result, log } = this;
    const ip = nextServerOf(config);
    const inputs = this.readInputs();
    if (!inputs) return result;
    log.say(`INFO: Found ${inputs.hosts.length} Docker-managed PXE host(s) in ${config.deltaCsv}`);
    const { plan, deltaNames } = this.plan(inputs.dhcpBytes, inputs.hosts, ip);
    // A missing dhcpd.conf is an input error, found before anything is written.
    if (!this.ports.readFile(config.dhcpdConf)) throw new UsageError(`dhcpd.conf not found: ${config.dhcpdConf}; nothing changed`, { suggestion: 'set DHCPD_CONF in the config file or pass --dhcpd-conf' });

    // The write starts before the per-host log lines are made: they are built while the file is synced.
    const tempDir = dirname(dirname(config.devicesDhcp));
    const write = this.dryRun ? undefined : this.startWrite(plan, tempDir);
    this.reportHosts(plan, deltaNames, ip);
    if (this.dryRun) {
      result.status = 'dry-run';
      return result;
    }
    if (!write) {
      result.status = 'unchanged';
      log.say(`INFO: nothing to change, ${config.devicesDhcp} left as it is`);
    } else {
      await write.written;
      result.status = 'patched';
      await this.validate(write.included, inputs.dhcpBytes, tempDir);
    }
    log.say(`Done: ${result.patched} patched, ${result.skipped} skipped, ${result.errors} errors (${result.patched + result.skipped} total)`);
    return result;
  }

  /** The delta's PXE hosts and the devices file; undefined, with the reason logged, when there is nothing to do. */
  private readInputs(): { hosts: string[]; dhcpBytes: Uint8Array } | undefined {
    const { config, ports } = this;
    const deltaBytes = ports.readFile(config.deltaCsv);
    if (!deltaBytes) return this.nothingToDo(`INFO: Delta CSV not found (${config.deltaCsv}), nothing to do`, 'delta CSV not found');
    const selection = selectPxeHosts(decodeOrFail(deltaBytes, config.deltaCsv));
    if (selection.shortRows.length) {
      const where = selection.shortRows.map((r) => `line ${r.line} (${r.fields} fields)`).join(', ');
      throw new UsageError(`${config.deltaCsv}: short row(s), at least 11 fields needed: ${where}; nothing changed`);
    }
    const dhcpBytes = ports.readFile(config.devicesDhcp);
    if (!dhcpBytes) return this.nothingToDo(`INFO: DHCP devices file not found (${config.devicesDhcp}), nothing to do`, 'DHCP devices file not found');
    if (selection.hosts.length === 0) return this.nothingToDo('INFO: No PXE-enabled hosts in delta CSV, nothing to do', 'no PXE-enabled hosts in the delta');
    return { hosts: selection.hosts, dhcpBytes };
  }

  private nothingToDo(line: string, reason: string): undefined {
    this.log.say(line);
    this.result.reason = reason;
    return undefined;
  }

  /** The patch plan, and the delta name of each qualified (lowercase) name; the default school's names are the delta's own. */
  private plan(dhcpBytes: Uint8Array, hosts: string[], ip: string): { plan: NextServerPlan; deltaNames: Map<string, string> | undefined } {
    const { config } = this;
    const original = decodeOrFail(dhcpBytes, config.devicesDhcp);
    const deltaNames = isDefaultSchool(config.school) ? undefined : new Map(hosts.map((h) => [qualifiedHostname(config.school, h).toLowerCase(), h]));
    try {
      return { plan: planNextServerPatch(original, deltaNames ? deltaNames.keys() : hosts, ip), deltaNames };
    } catch (e) {
      if (e instanceof DhcpdSyntaxError) throw new UsageError(`${config.devicesDhcp}: ${e.message}; nothing changed`);
      throw e;
    }
  }

  /** Clears stale temp files and, when the plan changes the file, starts replacing it; undefined when nothing is written. */
  private startWrite(plan: NextServerPlan, tempDir: string): { written: Promise<void>; included: boolean } | undefined {
    const { config, ports } = this;
    for (const dir of new Set([dirname(config.devicesDhcp), tempDir])) ports.removeStaleTemps(dir, config.devicesDhcp);
    if (!plan.changed) return undefined;
    const included = isIncluded(ports, config.dhcpdConf, config.devicesDhcp);
    const written = ports.writeAtomic(config.devicesDhcp, plan.output, tempDir);
    // awaited by run(); this only keeps a failure from counting as unhandled if the report throws
    written.catch(() => undefined);
    return { written, included };
  }

  /** A log line and a count per planned host, then the PXE hosts the file has no block for. */
  private reportHosts(plan: NextServerPlan, deltaNames: Map<string, string> | undefined, ip: string): void {
    const { result, log } = this;
    // One clock reading for the per-host report: it takes milliseconds, and a Date per line shows on big imports.
    const now = this.ports.now();
    for (const planned of plan.hosts) {
      const name = planned.host.toLowerCase();
      // The plan's entry itself, extended in place: a copy per host costs microseconds each on Node 20.
      const h = planned as DhcpPatchHost;
      h.deltaName = deltaNames?.get(name) ?? name;
      result.hosts.push(h);
      if (h.action === 'insert') {
        result.patched++;
        log.say(`[PATCH] Inserted next-server for ${name}: ${ip}`, now);
      } else if (h.action === 'replace') {
        result.patched++;
        log.say(`[PATCH] Replaced next-server for ${name}: ${ip}`, now);
      } else if (h.action === 'keep') {
        result.skipped++;
        log.say(`[SKIP] ${name} already has correct next-server`, now);
      } else {
        result.errors++;
        log.say(`WARN: ${name} has no 'hardware ethernet' line, next-server not added`, now);
      }
    }
    result.missing = plan.missing;
    for (const m of plan.missing) log.say(`WARN: ${m} is PXE-enabled in the delta but has no host block in ${this.config.devicesDhcp}`);
  }

  /** dhcpd -t over dhcpd.conf when that includes the devices file; when it fails, the original bytes go back. */
  private async validate(included: boolean, original: Uint8Array, tempDir: string): Promise<void> {
    const { config, ports, log, result } = this;
    if (!included) {
      result.validation = 'not-included';
      log.say('WARN: devices file not included in dhcpd.conf, skipping dhcpd -t');
      return;
    }
    const dhcpd = config.dhcpd ?? ports.findDhcpd();
    if (!dhcpd) {
      result.validation = 'no-dhcpd';
      log.say('WARN: dhcpd not found, skipping dhcpd -t');
      return;
    }
    const r = await ports.runDhcpd(dhcpd, config.dhcpdConf);
    if (r.output) log.addDhcpdOutput(r.output.replace(/\n$/, ''));
    if (r.code !== 0) {
      log.say(`ERROR: dhcpd -t failed (exit ${r.code}) — rolling back to backup`);
      await ports.writeAtomic(config.devicesDhcp, original, tempDir);
      const error = dhcpdErrorLine(r.output);
      throw new OperationFailed(`dhcpd -t failed (exit ${r.code})${error ? `: ${error}` : ''}; ${config.devicesDhcp} restored`, {
        suggestion: `see ${config.logFile} for the full dhcpd output`,
      });
    }
    result.validation = 'passed';
    log.say('INFO: dhcpd -t syntax check passed');
  }
}

/** The real file system and dhcpd. */
export async function systemDhcpPatchPorts(tee?: (text: string) => void): Promise<DhcpPatchPorts> {
  const [{ writeFileAtomicInBackground, removeStaleTemps }, { childEnv }] = await Promise.all([import('../core/fs/atomic-write.js'), import('../core/child-env.js')]);
  return {
    readFile(path) {
      try {
        return readFileSync(path);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return undefined;
        throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
      }
    },
    writeAtomic: (path, data, tempDir) => writeFileAtomicInBackground(path, data, { tempDir }),
    removeStaleTemps,
    appendLog(path, text) {
      mkdirSync(dirname(path), { recursive: true });
      appendFileSync(path, text);
    },
    realpath: (p) => realpathSync(p),
    findDhcpd() {
      for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/sbin']) {
        const p = `${dir}/dhcpd`;
        if (existsSync(p)) return p;
      }
      return undefined;
    },
    runDhcpd(dhcpd, conf) {
      return new Promise((resolve) => {
        const child = spawn(dhcpd, ['-t', '-cf', conf], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(process.env) });
        const chunks: Buffer[] = [];
        child.stdout.on('data', (c: Buffer) => chunks.push(c));
        child.stderr.on('data', (c: Buffer) => chunks.push(c));
        child.on('error', (e) => resolve({ code: 127, output: e.message }));
        child.on('close', (code) => resolve({ code: code ?? 1, output: Buffer.concat(chunks).toString('utf8') }));
      });
    },
    now: () => new Date(),
    tee,
  };
}
