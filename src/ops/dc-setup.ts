// labops dc setup / dc check: what the DC worker's install.sh did (NOTES §2.6 "Installer checks"),
// without the Python worker: prerequisites, Redis and API tested before anything is written, the two
// config files merged (keys it does not manage are kept, mode 600, atomic), the hook wrapper and a
// systemd unit for `labops dc jobs`. --uninstall removes the hook and the unit and keeps configs and logs.
import { AuthFailed, isLabopsError, OperationFailed, Unreachable, UsageError, type ErrorKind } from '../domain/errors.js';
import { parseKv } from '../core/config/kv-file.js';
import { shJoin } from '../domain/shell-quote.js';
import { schoolNameProblem } from '../domain/devices-csv/paths.js';

export interface DcPaths {
  workerConf: string;
  hookConf: string;
  hookDir: string;
  systemdDir: string;
  /** a file only a linuxmuster.net server has */
  linuxmusterMarker: string;
  logDir: string;
  /** where packages install systemd units (the DC worker's macct-worker.service) */
  vendorUnitDirs: string[];
}

export function defaultDcPaths(root = ''): DcPaths {
  return {
    workerConf: `${root}/etc/macct-worker.conf`,
    hookConf: `${root}/etc/linbo-docker-dhcp.conf`,
    hookDir: `${root}/var/lib/linuxmuster/hooks/device-import.post.d`,
    systemdDir: `${root}/etc/systemd/system`,
    linuxmusterMarker: `${root}/etc/linuxmuster/linbo/ssh_host_rsa_key`,
    logDir: `${root}/var/log/macct`,
    vendorUnitDirs: [`${root}/lib/systemd/system`, `${root}/usr/lib/systemd/system`],
  };
}

export const HOOK_NAME = '50-linbo-docker-dhcp';
export const UNIT_NAME = 'labops-dc-jobs.service';

export interface DcSetupAnswers {
  linboIp: string;
  apiKey: string;
  school: string;
  domain: string;
  redisPort: number;
  apiPort: number;
  redisPassword?: string;
}

export interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  /** why a connectivity check failed, as the exit table names it (auth: the key or password was refused) */
  kind?: ErrorKind;
}

export interface DcSetupPorts {
  isRoot(): boolean;
  exists(path: string): boolean;
  readFile(path: string): string | undefined;
  /** atomic write with this mode (also applied to an existing file) */
  writeFile(path: string, text: string, mode: number): void;
  remove(path: string): boolean;
  mode(path: string): number | undefined;
  which(cmd: string): string | undefined;
  checkRedis(host: string, port: number, password: string | undefined): Promise<string>;
  checkApi(apiUrl: string, apiKey: string): Promise<string>;
  /** systemctl daemon-reload + enable/disable; undefined when not wanted */
  systemctl?(args: string[]): Promise<void>;
  /** a unit's state from systemctl is-active / is-enabled (read-only); undefined without systemd or under --root */
  unitState?(unit: string): Promise<{ active: string; enabled: string }>;
  /** this machine's host name (the DC worker's default consumer name) */
  hostname?(): string;
  /** the labops running now, by absolute paths: the single executable, or Node and the CLI script */
  labopsCommand: string[];
}

/** The Phase-11 keys install.sh looks for in an older config, with the values it writes. */
export const PHASE11_KEYS: [string, string][] = [
  ['SCHOOL', 'default-school'],
  ['DEVICES_CSV_MASTER', '/etc/linuxmuster/sophomorix/{school}/devices.csv'],
  ['DEVICES_CSV_DELTA', '/etc/linuxmuster/sophomorix/{school}/linbo-docker.devices.csv'],
  ['IMPORT_SCRIPT', '/usr/sbin/linuxmuster-import-devices'],
  ['PROVISION_LOCK_FILE', '/var/lock/linbo-provision.lock'],
  ['LINBO_DOMAIN', 'linuxmuster.lan'],
  ['DHCP_VERIFY_FILE', '/etc/dhcp/devices/{school}.conf'],
  ['SAMBA_TOOL_AUTH', ''],
  ['REV_DNS_OCTETS', '3'],
  ['PROVISION_BATCH_SIZE', '50'],
  ['PROVISION_DEBOUNCE_SEC', '5'],
];

/**
 * The hook runs labops by its absolute path: import-devices (and cron, which runs it) give hooks a PATH that
 * need not contain labops, and a hook that exits 127 aborts the import before DHCP is restarted.
 */
export function hookWrapper(labopsCommand: readonly string[]): string {
  return `#!/bin/sh
# linuxmuster device-import hook installed by \`labops dc setup\`:
#   /var/lib/linuxmuster/hooks/device-import.post.d/${HOOK_NAME}  (mode 755)
# import-devices calls it as \`<hook> -s <school>\` after writing /etc/dhcp/devices/<school>.conf.
# Reads /etc/linbo-docker-dhcp.conf (LINBO_DOCKER_IP, SCHOOL, DELTA_CSV, DEVICES_DHCP, LOGFILE).
exec ${shJoin(labopsCommand)} dhcp-patch "$@"
`;
}

export function unitFile(labopsCommand: readonly string[], workerConf: string): string {
  return `[Unit]
Description=labops DC job consumer (LINBO Docker macct/provision jobs from Redis)
After=network-online.target samba-ad-dc.service
Wants=network-online.target

[Service]
Type=simple
EnvironmentFile=-${workerConf}
Environment=MACCT_WORKER_CONF=${workerConf}
ExecStart=${labopsCommand.join(' ')} dc jobs
Restart=always
RestartSec=10
MemoryMax=256M
CPUQuota=50%
SyslogIdentifier=labops-dc-jobs

[Install]
WantedBy=multi-user.target
`;
}

/**
 * Sets keys in a KEY=VALUE file, keeping every other line (comments, keys it does not manage) in place.
 * Returns the text and which managed keys were added (missing before).
 */
export function mergeKvText(existing: string | undefined, set: [string, string][], addIfMissing: [string, string][] = []): { text: string; added: string[] } {
  const lines = existing === undefined ? [] : existing.replace(/\n$/, '').split('\n');
  const present = new Set(parseKv(existing ?? '').map((e) => e.key.toUpperCase()));
  const added: string[] = [];
  const want = new Map(set.map(([k, v]) => [k.toUpperCase(), v]));
  const out = lines.map((l) => {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(l);
    if (!m || !want.has(m[1]!.toUpperCase())) return l;
    const k = m[1]!.toUpperCase();
    const v = want.get(k)!;
    want.delete(k);
    return `${m[1]}=${v}`;
  });
  for (const [k, v] of want) {
    out.push(`${k}=${v}`);
    if (existing !== undefined && !present.has(k)) added.push(k);
  }
  for (const [k, v] of addIfMissing) {
    if (present.has(k.toUpperCase()) || set.some(([s]) => s.toUpperCase() === k.toUpperCase())) continue;
    out.push(`${k}=${v}`);
    if (existing !== undefined) added.push(k);
  }
  return { text: `${out.join('\n')}\n`, added };
}

export interface DcSetupResult {
  checks: Check[];
  written: string[];
  /** keys an existing (older) worker config lacked; they were added with their defaults */
  addedToOldConfig: string[];
  hook: string;
  unit: string;
  enabled: boolean;
}

const TOOLS = ['ldbsearch', 'ldbmodify', 'samba-tool'];

export function prerequisiteChecks(paths: DcPaths, ports: DcSetupPorts, importScript: string): Check[] {
  const checks: Check[] = [];
  checks.push(ports.isRoot() ? { name: 'root', status: 'ok', detail: 'running as root' } : { name: 'root', status: 'fail', detail: 'must run as root (it writes /etc and the hook directory)' });
  checks.push(
    ports.exists(paths.linuxmusterMarker)
      ? { name: 'linuxmuster.net', status: 'ok', detail: paths.linuxmusterMarker }
      : { name: 'linuxmuster.net', status: 'warn', detail: `${paths.linuxmusterMarker} missing: not a linuxmuster.net server?` },
  );
  for (const t of TOOLS) {
    const p = ports.which(t);
    checks.push(p ? { name: t, status: 'ok', detail: p } : { name: t, status: 'warn', detail: `${t} not found (macct repair and verify need it)` });
  }
  checks.push(ports.exists(importScript) ? { name: 'import-devices', status: 'ok', detail: importScript } : { name: 'import-devices', status: 'warn', detail: `${importScript} not found` });
  return checks;
}

/** Redis and the LINBO API, each a check; a failure keeps its kind (refused credentials are auth, 4). */
export async function peerChecks(c: { redisHost: string; redisPort: number; redisPassword?: string; apiUrl: string; apiKey: string }, ports: DcSetupPorts): Promise<Check[]> {
  const check = async (name: string, run: () => Promise<string>): Promise<Check> => {
    try {
      return { name, status: 'ok', detail: await run() };
    } catch (e) {
      return { name, status: 'fail', detail: (e as Error).message, kind: isLabopsError(e) ? e.kind : 'failed' };
    }
  };
  return [await check('redis', () => ports.checkRedis(c.redisHost, c.redisPort, c.redisPassword)), await check('api', () => ports.checkApi(c.apiUrl, c.apiKey))];
}

export function connectivityChecks(a: { linboIp: string; redisPort: number; apiPort: number; apiKey: string; redisPassword?: string }, ports: DcSetupPorts): Promise<Check[]> {
  return peerChecks({ redisHost: a.linboIp, redisPort: a.redisPort, redisPassword: a.redisPassword, apiUrl: `http://${a.linboIp}:${a.apiPort}/api/v1`, apiKey: a.apiKey }, ports);
}

/** The error for failed peer checks: auth when every failure is a refused key or password (4), else unreachable (3). */
function peerFailure(bad: readonly Check[]): Error {
  const message = `${bad.map((c) => `${c.name}: ${c.detail}`).join('; ')}; nothing written`;
  if (bad.every((c) => c.kind === 'auth')) {
    return new AuthFailed(message, { suggestion: 'the API key must be INTERNAL_API_KEY of the LINBO Docker API, the Redis password its requirepass; --force writes anyway' });
  }
  return new Unreachable(message, { suggestion: 'check the LINBO host IP, the exposed ports 6379/3000 and the API key; --force writes anyway' });
}

export async function dcSetup(a: DcSetupAnswers, paths: DcPaths, ports: DcSetupPorts, o: { force?: boolean; enable: boolean }): Promise<DcSetupResult> {
  if (!/^[A-Za-z0-9.:-]+$/.test(a.linboIp)) throw new UsageError(`invalid LINBO host '${a.linboIp}': an IP address or host name`);
  if (!a.apiKey) throw new UsageError('the API key is empty');
  const badSchool = schoolNameProblem(a.school);
  if (badSchool) throw new UsageError(`${badSchool}; nothing written`);
  checkLabopsCommand(ports);
  const checks = prerequisiteChecks(paths, ports, '/usr/sbin/linuxmuster-import-devices');
  if (checks.some((c) => c.status === 'fail') && !o.force) {
    const c = checks.find((x) => x.status === 'fail')!;
    if (c.name === 'root') throw new AuthFailed(`${c.detail}; nothing written`);
    throw new OperationFailed(`prerequisite failed: ${c.detail}; nothing written`, { context: { checks } });
  }
  const conn = await connectivityChecks(a, ports);
  checks.push(...conn);
  const bad = conn.filter((c) => c.status === 'fail');
  if (bad.length && !o.force) throw peerFailure(bad);

  const written: string[] = [];
  const worker = mergeKvText(
    ports.readFile(paths.workerConf),
    [
      ['REDIS_HOST', a.linboIp],
      ['REDIS_PORT', String(a.redisPort)],
      ['REDIS_PASSWORD', a.redisPassword ?? ''],
      ['API_URL', `http://${a.linboIp}:${a.apiPort}/api/v1`],
      ['API_KEY', a.apiKey],
      ['SCHOOL', a.school],
      ['LINBO_DOMAIN', a.domain],
    ],
    [['LOG_DIR', paths.logDir], ...PHASE11_KEYS],
  );
  ports.writeFile(paths.workerConf, worker.text, 0o600);
  written.push(paths.workerConf);
  const hookConf = mergeKvText(ports.readFile(paths.hookConf), [
    ['LINBO_DOCKER_IP', a.linboIp],
    ['SCHOOL', a.school],
  ], [
    ['DELTA_CSV', '/etc/linuxmuster/sophomorix/{school}/linbo-docker.devices.csv'],
    ['DEVICES_DHCP', '/etc/dhcp/devices/{school}.conf'],
    ['LOGFILE', '/var/log/linuxmuster/linbo-docker-dhcp.log'],
  ]);
  ports.writeFile(paths.hookConf, hookConf.text, 0o600);
  written.push(paths.hookConf);
  const hook = `${paths.hookDir}/${HOOK_NAME}`;
  ports.writeFile(hook, hookWrapper(ports.labopsCommand), 0o755);
  written.push(hook);
  const unit = `${paths.systemdDir}/${UNIT_NAME}`;
  ports.writeFile(unit, unitFile(ports.labopsCommand, paths.workerConf), 0o644);
  written.push(unit);
  let enabled = false;
  if (o.enable && ports.systemctl) {
    await ports.systemctl(['daemon-reload']);
    await ports.systemctl(['enable', UNIT_NAME]);
    enabled = true;
  }
  return { checks, written, addedToOldConfig: worker.added.filter((k) => PHASE11_KEYS.some(([p]) => p === k)), hook, unit, enabled };
}

/**
 * The hook and the unit name the labops running now; a path that does not exist (a deleted or moved binary)
 * would give a hook that fails every import, so nothing is written. Plain characters only, so the same words
 * are right for sh and for systemd's ExecStart (which gives % and $ meanings of its own).
 */
function checkLabopsCommand(ports: DcSetupPorts): void {
  const words = ports.labopsCommand;
  const shown = words.join(' ');
  if (words.length === 0) throw new OperationFailed('cannot tell which labops is running; nothing written');
  const bad = words.find((p) => !/^\/[A-Za-z0-9_@+=:,./-]+$/.test(p));
  if (bad !== undefined) throw new OperationFailed(`labops runs as '${bad}', which a hook or systemd unit cannot name safely (an absolute path of letters, digits and ._-+=@:,/ only); nothing written`, { suggestion: 'run labops from a plain path, such as the Debian package\'s /usr/bin/labops' });
  const missing = words.find((p) => !ports.exists(p));
  if (missing !== undefined) throw new OperationFailed(`labops runs as ${shown}, but ${missing} does not exist; nothing written`, { suggestion: 'run the installed labops (/usr/bin/labops from the Debian package)' });
}

export async function dcUninstall(paths: DcPaths, ports: DcSetupPorts, o: { enable: boolean }): Promise<{ removed: string[]; kept: string[] }> {
  const unit = `${paths.systemdDir}/${UNIT_NAME}`;
  if (o.enable && ports.systemctl && ports.exists(unit)) await ports.systemctl(['disable', UNIT_NAME]);
  const removed: string[] = [];
  for (const p of [`${paths.hookDir}/${HOOK_NAME}`, unit]) if (ports.remove(p)) removed.push(p);
  if (o.enable && ports.systemctl && removed.includes(unit)) await ports.systemctl(['daemon-reload']);
  const kept = [paths.workerConf, paths.hookConf, paths.logDir].filter((p) => ports.exists(p));
  return { removed, kept };
}
