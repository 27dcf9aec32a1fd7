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
import { planNextServerPatch, type HostPatch } from '../domain/dhcpd-conf/next-server-patch.js';
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
  const log: string[] = [];
  // One Date formatting per second, not per line: a big import logs one line per host.
  let stampSecond = -1;
  let stampPrefix = '';
  const say = (msg: string, now = ports.now()) => {
    const sec = Math.floor(now.getTime() / 1000);
    if (sec !== stampSecond) {
      stampSecond = sec;
      stampPrefix = hookLogLine(now, '');
    }
    log.push(stampPrefix + msg);
  };
  // log entries that are dhcpd's output: in the log file, not in the tee (the hook redirects only that to the file)
  const fileOnly = new Set<number>();
  const result: DhcpPatchResult = {
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
    dryRun: opts.dryRun,
    log,
  };
  // Like the hook: no config file and no address on the command line means this DC does not use it.
  if (!config.file && !config.linboDockerIp) {
    result.reason = 'no config file and no --next-server';
    return result;
  }
  const flush = () => {
    if (opts.dryRun || log.length === 0) return;
    // joined once for both: a big import logs a line per host
    const text = log.join('\n');
    try {
      ports.appendLog(config.logFile, `${text}\n`);
    } catch {
      // the log is best effort; the result and exit code carry the outcome
    }
    ports.tee?.(fileOnly.size ? log.filter((_, i) => !fileOnly.has(i)).join('\n') : text);
  };
  try {
    return await patch();
  } catch (e) {
    if (e instanceof UsageError || e instanceof OperationFailed) say(`ERROR: ${e.message}`);
    throw e;
  } finally {
    flush();
  }

  async function patch(): Promise<DhcpPatchResult> {
    const ip = config.linboDockerIp;
    if (!ip) throw new UsageError(`LINBO_DOCKER_IP not set in ${config.file}`);
    if (!isIPv4(ip)) throw new UsageError(`LINBO_DOCKER_IP '${ip}' is not an IPv4 address`);

    const deltaBytes = ports.readFile(config.deltaCsv);
    if (!deltaBytes) {
      say(`INFO: Delta CSV not found (${config.deltaCsv}), nothing to do`);
      result.reason = 'delta CSV not found';
      return result;
    }
    const selection = selectPxeHosts(decodeOrFail(deltaBytes, config.deltaCsv));
    if (selection.shortRows.length) {
      const where = selection.shortRows.map((r) => `line ${r.line} (${r.fields} fields)`).join(', ');
      throw new UsageError(`${config.deltaCsv}: short row(s), at least 11 fields needed: ${where}; nothing changed`);
    }
    const dhcpBytes = ports.readFile(config.devicesDhcp);
    if (!dhcpBytes) {
      say(`INFO: DHCP devices file not found (${config.devicesDhcp}), nothing to do`);
      result.reason = 'DHCP devices file not found';
      return result;
    }
    if (selection.hosts.length === 0) {
      say('INFO: No PXE-enabled hosts in delta CSV, nothing to do');
      result.reason = 'no PXE-enabled hosts in the delta';
      return result;
    }
    say(`INFO: Found ${selection.hosts.length} Docker-managed PXE host(s) in ${config.deltaCsv}`);
    const original = decodeOrFail(dhcpBytes, config.devicesDhcp);
    // The delta name of each qualified (lowercase) name; the default school's names are the delta's own.
    const deltaNames = isDefaultSchool(config.school) ? undefined : new Map(selection.hosts.map((h) => [qualifiedHostname(config.school, h).toLowerCase(), h]));
    let plan;
    try {
      plan = planNextServerPatch(original, deltaNames ? deltaNames.keys() : selection.hosts, ip);
    } catch (e) {
      if (e instanceof DhcpdSyntaxError) throw new UsageError(`${config.devicesDhcp}: ${e.message}; nothing changed`);
      throw e;
    }
    // A missing dhcpd.conf is an input error, found before anything is written.
    if (!ports.readFile(config.dhcpdConf)) throw new UsageError(`dhcpd.conf not found: ${config.dhcpdConf}; nothing changed`, { suggestion: 'set DHCPD_CONF in the config file or pass --dhcpd-conf' });

    // The write starts before the per-host log lines are made: they are built while the file is synced.
    let writing: Promise<void> | undefined;
    let included = false;
    const tempDir = dirname(dirname(config.devicesDhcp));
    if (!opts.dryRun) {
      for (const dir of new Set([dirname(config.devicesDhcp), tempDir])) ports.removeStaleTemps(dir, config.devicesDhcp);
      if (plan.changed) {
        included = isIncluded(ports, config.dhcpdConf, config.devicesDhcp);
        writing = ports.writeAtomic(config.devicesDhcp, plan.output, tempDir);
        // awaited below; this only keeps a failure from counting as unhandled if the loop throws
        writing.catch(() => undefined);
      }
    }
    // One clock reading for the per-host report: it takes milliseconds, and a Date per line shows on big imports.
    const now = ports.now();
    for (const planned of plan.hosts) {
      const name = planned.host.toLowerCase();
      // The plan's entry itself, extended in place: a copy per host costs microseconds each on Node 20.
      const h = planned as DhcpPatchHost;
      h.deltaName = deltaNames?.get(name) ?? name;
      result.hosts.push(h);
      if (h.action === 'insert') {
        result.patched++;
        say(`[PATCH] Inserted next-server for ${name}: ${ip}`, now);
      } else if (h.action === 'replace') {
        result.patched++;
        say(`[PATCH] Replaced next-server for ${name}: ${ip}`, now);
      } else if (h.action === 'keep') {
        result.skipped++;
        say(`[SKIP] ${name} already has correct next-server`, now);
      } else {
        result.errors++;
        say(`WARN: ${name} has no 'hardware ethernet' line, next-server not added`, now);
      }
    }
    result.missing = plan.missing;
    for (const m of plan.missing) say(`WARN: ${m} is PXE-enabled in the delta but has no host block in ${config.devicesDhcp}`);

    if (opts.dryRun) {
      result.status = 'dry-run';
      return result;
    }
    if (!writing) {
      result.status = 'unchanged';
      say(`INFO: nothing to change, ${config.devicesDhcp} left as it is`);
    } else {
      await writing;
      result.status = 'patched';
      if (!included) {
        result.validation = 'not-included';
        say('WARN: devices file not included in dhcpd.conf, skipping dhcpd -t');
      } else {
        const dhcpd = config.dhcpd ?? ports.findDhcpd();
        if (!dhcpd) {
          result.validation = 'no-dhcpd';
          say('WARN: dhcpd not found, skipping dhcpd -t');
        } else {
          const r = await ports.runDhcpd(dhcpd, config.dhcpdConf);
          if (r.output) fileOnly.add(log.push(r.output.replace(/\n$/, '')) - 1);
          if (r.code !== 0) {
            say(`ERROR: dhcpd -t failed (exit ${r.code}) — rolling back to backup`);
            await ports.writeAtomic(config.devicesDhcp, dhcpBytes, tempDir);
            const last = r.output.trim().split('\n').filter((l) => l && !/^(Internet Systems|Copyright|All rights|For info|Config file|Database file|PID file)/.test(l))[0];
            throw new OperationFailed(`dhcpd -t failed (exit ${r.code})${last ? `: ${last}` : ''}; ${config.devicesDhcp} restored`, {
              suggestion: `see ${config.logFile} for the full dhcpd output`,
            });
          }
          result.validation = 'passed';
          say('INFO: dhcpd -t syntax check passed');
        }
      }
    }
    say(`Done: ${result.patched} patched, ${result.skipped} skipped, ${result.errors} errors (${result.patched + result.skipped} total)`);
    return result;
  }
}

/** The real file system and dhcpd. */
export async function systemDhcpPatchPorts(tee?: (text: string) => void): Promise<DhcpPatchPorts> {
  const { writeFileAtomicInBackground, removeStaleTemps } = await import('../core/fs/atomic-write.js');
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
        const child = spawn(dhcpd, ['-t', '-cf', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
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
