// Every configurable value as data: its key in the config file, environment variables (seed names
// included), default and description. Rendered into `config show`, the README and the man page.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../domain/errors.js';

export type SettingType = 'string' | 'path' | 'int' | 'duration' | 'bool' | 'secret' | 'url' | 'enum';

export interface SettingDef {
  key: string;
  type: SettingType;
  env: readonly string[];
  /** the global flag that sets it, when there is one */
  flag?: string;
  /** the default as written in the config file; a function when it depends on the environment (XDG paths) */
  default?: string | ((env: NodeJS.ProcessEnv) => string);
  /** the values an enum accepts */
  choices?: readonly string[];
  /**
   * A value built from several upstream variables, used when none of `env` is set (the ops-worker's MySQL DSN
   * parts). `name` is what `config show` names as the source.
   */
  fromEnv?: (env: NodeJS.ProcessEnv) => { value: string; name: string } | undefined;
  description: string;
}

export function xdgConfigHome(env: NodeJS.ProcessEnv): string {
  return env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
}
export function xdgStateHome(env: NodeJS.ProcessEnv): string {
  return env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
}

/** `<NAME>` else the file named by `<NAME>_FILE` (stripped), as the ops-worker reads its secrets. */
export function upstreamSecret(env: NodeJS.ProcessEnv, name: string): { value: string; from: string } | undefined {
  if (env[name]) return { value: env[name]!, from: name };
  const file = env[`${name}_FILE`];
  if (!file) return undefined;
  try {
    return { value: readFileSync(file, 'utf8').trim(), from: `${name}_FILE` };
  } catch (e) {
    throw new UsageError(`${name}_FILE: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/**
 * The head ops-worker's database when MYSQL_DSN is unset: built from OPS_BACKEND_MYSQL_USER, _PASSWORD (or
 * _PASSWORD_FILE), OPS_MYSQL_DATABASE (else BLOCKCHAIN_MYSQL_DATABASE), MYSQL_HOSTNAME (else MYSQL_HOST, else
 * `mysql`) and MYSQL_PORT, and only when user, password and database are all given (reference HEAD-API §6.3).
 */
export function opsWorkerDsn(env: NodeJS.ProcessEnv): { value: string; name: string } | undefined {
  const user = env.OPS_BACKEND_MYSQL_USER;
  const password = upstreamSecret(env, 'OPS_BACKEND_MYSQL_PASSWORD')?.value;
  const database = env.OPS_MYSQL_DATABASE || env.BLOCKCHAIN_MYSQL_DATABASE;
  if (!user || !password || !database) return undefined;
  const host = env.MYSQL_HOSTNAME || env.MYSQL_HOST || 'mysql';
  const port = env.MYSQL_PORT || '3306';
  const e = encodeURIComponent;
  return { value: `mysql://${e(user)}:${e(password)}@${host}:${port}/${e(database)}`, name: 'OPS_BACKEND_MYSQL_USER…' };
}

/** The ops-worker's /api/winrm allow-list (OPS_ALLOWED_COMMANDS), unchanged since 51f2784. */
export const UPSTREAM_ALLOWED_COMMANDS = 'prepare-session,release-session,power,session,energy,status-json,recovery,account,service,wol,status';

export const SETTINGS = [
  {
    key: 'hosts',
    type: 'path',
    env: ['OPS_CONFIG', 'LABOPS_HOSTS'],
    flag: '--hosts',
    default: (env) => join(xdgConfigHome(env), 'labops', 'hosts.json'),
    description: 'host inventory in the seed hosts.json format',
  },
  {
    key: 'db',
    type: 'url',
    env: ['LABOPS_DB', 'MYSQL_DSN'],
    flag: '--db',
    default: (env) => `sqlite:${join(xdgStateHome(env), 'labops', 'labops.db')}`,
    fromEnv: opsWorkerDsn,
    description: 'database: sqlite:<path> (embedded default) or mysql://user:pass@host:3306/db (mysql+pymysql:// accepted; the password may instead come from db-password); without these, the ops-worker\'s OPS_BACKEND_MYSQL_* parts',
  },
  {
    key: 'db-password',
    type: 'secret',
    env: ['LABOPS_DB_PASSWORD', 'LABOPS_DB_PASSWORD_FILE'],
    flag: '--db-password-file',
    description: 'password of the MySQL/MariaDB user, so it need not sit in the db URL (argv, process lists): a reference env:NAME (e.g. env:MYSQL_PWD) or file:/path; LABOPS_DB_PASSWORD_FILE and --db-password-file name the file. Wins over a password in the URL',
  },
  {
    key: 'dynamic-hosts',
    type: 'path',
    env: ['OPS_DYNAMIC_CONFIG'],
    description: "the ops-worker's writable host catalog, merged over `hosts` by name (an entry replaces the base entry whole); read, never written; absent is fine",
  },
  {
    key: 'credentials',
    type: 'path',
    env: ['LABOPS_CREDENTIALS'],
    description: 'JSON file of WinRM credentials kept apart from the inventory ({"default":{user,password},"hosts":{<name>:{…}}})',
  },
  {
    key: 'winrm.store',
    type: 'path',
    env: ['OPS_CREDENTIALS_PATH'],
    description: "the ops-worker's encrypted WinRM credential store (winrm-credentials.json, Fernet, keyed by credential_ref); read, never written",
  },
  {
    key: 'winrm.store-key',
    type: 'secret',
    env: ['OPS_SECRETS_KEY', 'OPS_SECRETS_KEY_FILE'],
    description: 'the Fernet key of winrm.store (OPS_SECRETS_KEY, or the file OPS_SECRETS_KEY_FILE names)',
  },
  {
    key: 'winrm.allowed-transports',
    type: 'string',
    env: ['WINRM_ALLOWED_TRANSPORTS'],
    default: 'ntlm,kerberos,credssp',
    description: 'daemon API: the WinRM transports a host may use (the ops-worker\'s list; labops itself speaks ntlm and basic)',
  },
  {
    key: 'winrm.management-cidrs',
    type: 'string',
    env: ['WINRM_MANAGEMENT_CIDRS'],
    description: 'daemon: when set, every inventory host address must lie in one of these comma-separated CIDRs (checked at start and on reload)',
  },
  { key: 'winrm.user', type: 'string', env: ['LABOPS_WINRM_USER'], description: 'WinRM user for hosts that name none' },
  {
    key: 'winrm.password',
    type: 'secret',
    env: ['LABOPS_WINRM_PASSWORD'],
    description: 'WinRM password for hosts that name none (a reference: env:NAME or file:/path)',
  },
  { key: 'wol.broadcast', type: 'string', env: ['LABOPS_WOL_BROADCAST'], default: '255.255.255.255', description: 'magic packet destination address' },
  { key: 'wol.port', type: 'int', env: ['LABOPS_WOL_PORT'], default: '9', description: 'magic packet UDP port' },
  { key: 'wol.repeat', type: 'int', env: [], default: '3', description: 'magic packets sent per attempt' },
  { key: 'wol.attempts', type: 'int', env: [], default: '3', description: 'wake attempts (packet, wait, probe) per host' },
  { key: 'wol.interval', type: 'duration', env: [], default: '10s', description: 'wait after each packet before probing' },
  { key: 'wol.timeout', type: 'duration', env: [], default: '10s', description: 'probe timeout' },
  { key: 'wol.concurrency', type: 'int', env: [], default: '64', description: 'hosts woken at once' },
  { key: 'wol.probe', type: 'string', env: [], default: 'icmp', description: 'boot probe for hosts whose inventory names none: icmp or tcp:<port>' },
  { key: 'heartbeat.source', type: 'enum', choices: ['winrm', 'file'], env: ['LABOPS_HEARTBEAT_SOURCE'], default: 'winrm', description: 'where heartbeats are read: winrm, or file (a mounted share, see heartbeat.path)' },
  {
    key: 'heartbeat.path',
    type: 'string',
    env: ['LABOPS_HEARTBEAT_PATH'],
    default: '/mnt/labstation/{host}/labstation/data/telemetry/heartbeat.json',
    description: 'file-source path template: {host}, {address}, {winpath} (the inventory heartbeat_path as C/LabStation/…)',
  },
  { key: 'heartbeat.poll-enabled', type: 'bool', env: ['OPS_POLL_ENABLED'], default: 'true', description: 'daemon: run the heartbeat poll loop (the ops-worker\'s OPS_POLL_ENABLED)' },
  { key: 'heartbeat.interval', type: 'duration', env: ['OPS_POLL_INTERVAL'], default: '60s', description: 'poll interval (a bare number is seconds, as OPS_POLL_INTERVAL); the daemon reads a file-share station only when its files changed (a stat each), so a share can be polled more often than stations write' },
  {
    key: 'heartbeat.station-interval',
    type: 'duration',
    env: [],
    default: '60s',
    description: "how often each station writes heartbeat.json (Lab Station: every minute); a heartbeat is missing after alerts.missing-intervals of the longer of this and heartbeat.interval, so the file share can be polled more often than stations write",
  },
  { key: 'heartbeat.concurrency', type: 'int', env: [], default: '32', description: 'hosts polled at once' },
  { key: 'heartbeat.timeout', type: 'duration', env: ['OPS_WINRM_READ_TIMEOUT'], default: '30s', description: 'per-host read timeout' },
  { key: 'heartbeat.max-size', type: 'int', env: [], default: '4194304', description: 'largest station file read, in bytes (heartbeat.json, events, service-state.ini), looked at before it is read: a larger heartbeat is refused as not a heartbeat (exit 2), a larger events or ini file is skipped with a warning' },
  { key: 'heartbeat.clock-skew', type: 'duration', env: [], default: '2m', description: "a heartbeat dated more than this ahead of the poll means the station's clock is ahead: a warning and a clock-skew alert, last_seen is the poll time and forced logoffs are linked to reservations by the measured skew" },
  { key: 'alerts.not-ready', type: 'duration', env: [], default: '2m', description: 'alert when summary.ready is false for longer than this' },
  { key: 'alerts.local-session-lead', type: 'duration', env: [], default: '15m', description: 'alert on a local session this close to a reservation start' },
  { key: 'alerts.local-mode-lookahead', type: 'duration', env: [], default: '24h', description: 'alert on local mode while a reservation starts within this window' },
  { key: 'alerts.stale-eviction', type: 'duration', env: [], default: '15m', description: 'alert when the last forced logoff is older than this at a reservation start' },
  { key: 'alerts.missing-intervals', type: 'int', env: [], default: '3', description: 'alert when the heartbeat is missing or unchanged for more than this many intervals' },
  { key: 'ssh.known-hosts', type: 'path', env: ['LABOPS_SSH_KNOWN_HOSTS'], default: (env) => join(xdgConfigHome(env), 'labops', 'known_hosts'), description: 'OpenSSH known_hosts file that SSH host keys are verified against (hashed entries and [host]:port understood)' },
  { key: 'ssh.host-key-policy', type: 'enum', choices: ['strict', 'accept-new'], env: ['LABOPS_SSH_HOST_KEY_POLICY'], default: 'strict', description: 'strict: refuse unknown host keys; accept-new: record unknown keys in the known_hosts file (a changed key is always refused)' },
  { key: 'ssh.identity', type: 'path', env: ['LABOPS_SSH_IDENTITY'], description: 'private key file for SSH key auth, tried beside the passwords stored in servers/labs' },
  { key: 'ssh.identity-passphrase', type: 'secret', env: ['LABOPS_SSH_IDENTITY_PASSPHRASE'], description: 'passphrase of ssh.identity (a reference: env:NAME or file:/path)' },
  { key: 'ssh.agent', type: 'string', env: ['LABOPS_SSH_AGENT'], description: "ssh-agent socket for agent auth, or 'auto' for $SSH_AUTH_SOCK" },
  { key: 'ssh.user', type: 'string', env: ['LABOPS_SSH_USER'], description: 'SSH user for servers and labs whose rows name none' },
  { key: 'ssh.jump', type: 'string', env: ['LABOPS_SSH_JUMP'], description: 'explicit jump host user@host[:port]; every provisioning and check connection goes through it (direct-tcpip)' },
  { key: 'ssh.jump-password', type: 'secret', env: ['LABOPS_SSH_JUMP_PASSWORD'], description: 'password for the jump host (a reference: env:NAME or file:/path); key/agent settings apply too' },
  { key: 'ssh.connect-timeout', type: 'duration', env: [], default: '10s', description: 'TCP connect plus SSH handshake and login' },
  { key: 'ssh.channels-per-connection', type: 'int', env: [], default: '8', description: 'commands run at once over one SSH connection to the same host and user (OpenSSH MaxSessions defaults to 10); 1 = a connection per command' },
  { key: 'ssh.max-output', type: 'int', env: [], default: '1048576', description: 'bytes of stdout and of stderr kept per remote command (head and tail); the rest is drained and dropped' },
  { key: 'provision.contract', type: 'enum', choices: ['collector', 'provision-worker'], env: ['LABOPS_PROVISION_CONTRACT'], default: 'collector', description: "script arguments: 'collector' = bash <script> <username> <namespace>; 'provision-worker' = sudo <script> <username> <minutes> <namespace> (cleanup: sudo <script> <username>)" },
  { key: 'provision.timeout', type: 'duration', env: [], default: '2m', description: 'overall time a provision or cleanup script may run before it is killed' },
  { key: 'provision.concurrency', type: 'int', env: [], default: '16', description: 'sessions provisioned or cleaned up at once' },
  { key: 'provision.batch', type: 'int', env: [], default: '200', description: 'sessions selected per pass' },
  { key: 'provision.interval', type: 'duration', env: [], default: '10s', description: 'pause between provisioning passes (without --once)' },
  { key: 'provision.cleanup-interval', type: 'duration', env: [], default: '10s', description: 'pause between cleanup passes (without --once)' },
  { key: 'provision.backoff-base', type: 'duration', env: [], default: '30s', description: 'first retry delay after an unreachable host or a failed cleanup; doubles per attempt' },
  { key: 'provision.backoff-max', type: 'duration', env: [], default: '15m', description: 'longest retry delay' },
  { key: 'servers.interval', type: 'duration', env: [], default: '10s', description: 'pause between server check passes (without --once)' },
  { key: 'servers.timeout', type: 'duration', env: [], default: '30s', description: 'overall time for one server check' },
  { key: 'servers.concurrency', type: 'int', env: [], default: '16', description: 'servers checked at once' },
  { key: 'servers.cpu-sample', type: 'duration', env: [], default: '500ms', description: "time between the two /proc/stat samples of the CPU % (cpu_usage is the user % as the collector's top reading; CPU_HIGH uses the total busy %)" },
  { key: 'servers.cpu-threshold', type: 'int', env: [], description: 'open a CPU_HIGH alert at or above this busy % (unset: off)' },
  { key: 'servers.mem-threshold', type: 'int', env: [], description: 'open a MEM_HIGH alert at or above this memory % (unset: off)' },
  { key: 'servers.disk-threshold', type: 'int', env: [], description: 'open a DISK_HIGH alert at or above this disk % of / (unset: off)' },
  { key: 'servers.metrics-retention', type: 'duration', env: ['LABOPS_METRICS_RETENTION'], description: 'delete server_metrics rows older than this, e.g. 720h (unset: keep all, as the collector did)' },
  { key: 'cml.concurrency', type: 'int', env: ['LABOPS_CML_CONCURRENCY'], default: '5', description: 'CML servers synced at once' },
  { key: 'cml.lab-concurrency', type: 'int', env: ['LABOPS_CML_LAB_CONCURRENCY'], default: '4', description: 'lab details fetched at once per CML server (also its keep-alive connection pool size)' },
  { key: 'cml.timeout', type: 'duration', env: ['LABOPS_CML_TIMEOUT'], default: '30s', description: 'deadline of one CML API request, connect to last byte' },
  { key: 'cml.orphan-retention', type: 'duration', env: ['LABOPS_CML_ORPHAN_RETENTION'], default: '168h', description: 'daemon: delete a CML lab record and its history this long after the lab vanished from its controller (0: keep them)' },
  { key: 'cml.refresh-interval', type: 'duration', env: ['LABS_REFRESH_INTERVAL'], default: '30m', description: 'daemon: interval of the CML labs refresh loop (seed LABS_REFRESH_INTERVAL, seconds)' },
  { key: 'reservations.automation', type: 'bool', env: ['OPS_RESERVATION_AUTOMATION'], default: 'true', description: "daemon: run the reservation orchestrator (the ops-worker's OPS_RESERVATION_AUTOMATION; it also needs lab_reservations)" },
  { key: 'reservations.scan-interval', type: 'duration', env: ['OPS_RESERVATION_SCAN_INTERVAL'], default: '30s', description: 'orchestrator: pause between scans of lab_reservations (a bare number is seconds)' },
  { key: 'reservations.start-lead', type: 'duration', env: ['OPS_RESERVATION_START_LEAD'], default: '120s', description: 'orchestrator: start a CONFIRMED reservation this long before its start_time' },
  { key: 'reservations.end-delay', type: 'duration', env: ['OPS_RESERVATION_END_DELAY'], default: '60s', description: 'orchestrator: end a reservation this long after its end_time' },
  { key: 'reservations.lookback', type: 'duration', env: ['OPS_RESERVATION_LOOKBACK'], default: '6h', description: 'orchestrator: ignore reservations that started or ended longer ago than this' },
  { key: 'reservations.batch', type: 'int', env: ['OPS_RESERVATION_MAX_BATCH'], default: '200', description: 'orchestrator: reservations selected per scan' },
  { key: 'reservations.concurrency', type: 'int', env: ['LABOPS_RESERVATION_CONCURRENCY'], default: '64', description: 'orchestrator: reservations started or ended at once by one instance' },
  { key: 'reservations.lease', type: 'duration', env: [], default: '15m', description: 'orchestrator: a claim older than this belongs to a dead instance and is taken over' },
  { key: 'reservations.backoff-base', type: 'duration', env: ['OPS_RESERVATION_RETRY_COOLDOWN'], default: '60s', description: 'orchestrator: first retry delay of a failed start or end; doubles per failure' },
  { key: 'reservations.backoff-max', type: 'duration', env: [], default: '30m', description: 'orchestrator: longest retry delay' },
  { key: 'reservations.guard-grace', type: 'int', env: [], default: '90', description: 'seconds of session-guard grace for prepare-session (--guard-grace=<s>)' },
  { key: 'reservations.reboot-timeout', type: 'int', env: [], default: '15', description: "seconds before the reboot the default release asks for (release-session --reboot --reboot-timeout=<s>; upstream's bare --reboot reboots at once)" },
  { key: 'reservations.command-timeout', type: 'duration', env: [], default: '2m', description: 'WinRM deadline of a LabStation command in a reservation step, on top of the guard grace for prepare-session' },
  { key: 'daemon.lease', type: 'duration', env: ['LABOPS_LEASE'], default: '30s', description: 'daemon: shard lease of an instance in labops_instances, renewed every third of it; a dead instance\'s hosts move to the others within this' },
  { key: 'daemon.jitter', type: 'int', env: [], default: '10', description: 'daemon: ± this percentage of each loop interval, so instances and loops do not run in lockstep' },
  { key: 'daemon.log-level', type: 'enum', choices: ['debug', 'info', 'warning', 'warn', 'error', 'critical'], env: ['OPS_LOG_LEVEL'], default: 'info', description: 'daemon: log level, any case (critical logs as error); -v and -q win' },
  { key: 'daemon.stop-timeout', type: 'duration', env: [], default: '30s', description: 'daemon: after SIGTERM, how long in-flight work may take to finish or be released before the daemon exits anyway (keep systemd TimeoutStopSec above it)' },
  { key: 'api.bind', type: 'string', env: ['OPS_BIND'], default: '127.0.0.1', description: "daemon: address the ops-worker HTTP API listens on (the ops-worker's OPS_BIND; its default was 0.0.0.0)" },
  { key: 'api.port', type: 'int', env: ['OPS_PORT'], default: '8081', description: "daemon: port of the ops-worker HTTP API (the ops-worker's OPS_PORT)" },
  {
    key: 'api.listen',
    type: 'string',
    env: ['LABOPS_LISTEN'],
    description: 'daemon: address:port of the API in one value; a part set by a more specific setting (api.bind, api.port) from the same or a stronger source wins',
  },
  {
    key: 'api.token',
    type: 'secret',
    env: ['OPS_INTERNAL_AUTH_TOKEN', 'OPS_INTERNAL_AUTH_TOKEN_FILE'],
    description: 'daemon: /api/* requires this token in the api.token-header header (constant-time compare), and the status page at / this token too; required unless the API listens on loopback only',
  },
  { key: 'api.token-header', type: 'string', env: ['OPS_INTERNAL_AUTH_HEADER'], default: 'X-Ops-Internal-Token', description: 'daemon: the header that carries api.token (the ops-worker\'s OPS_INTERNAL_AUTH_HEADER)' },
  { key: 'api.allowed-commands', type: 'string', env: ['OPS_ALLOWED_COMMANDS'], default: UPSTREAM_ALLOWED_COMMANDS, description: 'daemon: the LabStation commands POST /api/winrm runs (comma-separated first words, exact and case-sensitive)' },
  { key: 'api.stream-interval', type: 'duration', env: ['OPS_HEARTBEAT_SSE_INTERVAL_SECONDS'], default: '10s', description: 'daemon: pause between the polls behind GET /api/heartbeat/stream (a bare number is seconds; at least 1s)' },
  { key: 'api.stream-keepalive', type: 'duration', env: [], default: '15s', description: 'daemon: an event stream idle this long gets a keep-alive comment (below the proxy read timeout, 30s at the Lab Gateway)' },
  { key: 'api.max-streams', type: 'int', env: [], default: '256', description: 'daemon: event streams open at once (they do not count against api.max-connections)' },
  { key: 'api.timeline-default-limit', type: 'int', env: ['OPS_TIMELINE_DEFAULT_LIMIT'], default: '100', description: 'daemon: operations per page of the timeline and the operations feed when the request names none' },
  { key: 'api.timeline-max-ops', type: 'int', env: ['OPS_TIMELINE_MAX_OPS'], default: '500', description: 'daemon: largest page of the timeline and the operations feed' },
  { key: 'api.timeline-phase-lookback', type: 'int', env: ['OPS_TIMELINE_PHASE_LOOKBACK'], default: '500', description: "daemon: the newest operations a reservation's timeline phases are taken from" },
  { key: 'api.max-body', type: 'int', env: [], default: '65536', description: 'daemon: largest accepted request body in bytes' },
  { key: 'api.header-timeout', type: 'duration', env: [], default: '10s', description: 'daemon: a client that has not sent the request line and headers within this is disconnected (408)' },
  { key: 'api.body-timeout', type: 'duration', env: [], default: '10s', description: 'daemon: a client that has not sent the whole body within this after its headers is disconnected (408)' },
  { key: 'api.keep-alive-timeout', type: 'duration', env: [], default: '5s', description: 'daemon: an idle keep-alive connection is closed after this' },
  { key: 'api.max-connections', type: 'int', env: [], default: '512', description: 'daemon: connections open at once; more are answered 503 and closed' },
  { key: 'api.max-connections-per-client', type: 'int', env: [], default: '128', description: 'daemon: connections open at once from one client address (behind the Lab Gateway proxy every request comes from one address)' },
] as const satisfies readonly SettingDef[];

type Def = (typeof SETTINGS)[number];
/** Every setting's key, from the table: a config read of any other key does not compile. */
export type SettingKey = Def['key'];
type DefOf<K extends SettingKey> = Extract<Def, { key: K }>;
type Parsed<T> = T extends 'int' | 'duration' ? number : T extends 'bool' ? boolean : string;
/** A setting's parsed value (durations in ms); `undefined` is possible only for settings without a default. */
export type SettingValue<K extends SettingKey> = DefOf<K> extends { default: unknown } ? Parsed<DefOf<K>['type']> : Parsed<DefOf<K>['type']> | undefined;

/** Environment variables that are not settings but change behaviour; documented with the settings. */
export const OTHER_ENV: readonly { name: string; description: string }[] = [
  { name: 'LABOPS_CONFIG', description: 'config file (same as --config); default $XDG_CONFIG_HOME/labops/config.json, else /etc/labops/config.json' },
  { name: 'NO_COLOR', description: 'disable colour on a TTY' },
  { name: 'XDG_CONFIG_HOME', description: 'base of the default config and inventory paths' },
  { name: 'XDG_STATE_HOME', description: 'base of the embedded SQLite database path' },
  { name: 'CI', description: 'set by CI systems: treated as non-interactive' },
  { name: 'OPS_BACKEND_MYSQL_USER', description: "with OPS_BACKEND_MYSQL_PASSWORD (or _FILE), OPS_MYSQL_DATABASE (or BLOCKCHAIN_MYSQL_DATABASE), MYSQL_HOSTNAME (or MYSQL_HOST) and MYSQL_PORT: the ops-worker's database when db is not set otherwise" },
];

/**
 * Variables of the head ops-worker (reference HEAD-API §6) for features labops does not provide: their endpoints
 * answer 501. Set in a Lab Gateway's environment they change nothing; `config show` lists them and the daemon names
 * them once at start. A variable matches by its exact name or by one of the prefixes.
 */
export const UPSTREAM_UNPROVIDED_ENV: readonly { feature: string; names?: readonly string[]; prefixes?: readonly string[] }[] = [
  {
    feature: 'Guacamole (connection inventory, discovery, provisioning, token revocation)',
    names: ['LAB_MANAGER_TOKEN', 'LAB_MANAGER_TOKEN_FILE', 'MYSQL_DATABASE', 'OPS_GUACAMOLE_TOKEN_INGEST_URL'],
    prefixes: ['GUAC_', 'GUACAMOLE_', 'OPS_GUACAMOLE_MYSQL_', 'OPS_DISCOVERY_'],
  },
  { feature: 'session observations and the access audit', names: ['ACCESS_AUDIT_URL', 'ISSUER', 'SERVER_NAME', 'HTTPS_PORT', 'OPS_SESSION_OBSERVATION_INGEST_URL'], prefixes: ['SESSION_OBSERVATION_', 'SESSION_OBSERVER_'] },
  { feature: 'AAS (BaSyx) sync', prefixes: ['AAS_', 'BASYX_'] },
  { feature: 'power controllers (PDU outlets, power policies)', prefixes: ['OPS_POWER_'] },
  {
    feature: "failure e-mails through blockchain-services and `alert` journal rows (labops: the config file's notify hook)",
    names: ['BLOCKCHAIN_SERVICES_NOTIFICATION_URL', 'ADMIN_ACCESS_TOKEN', 'ADMIN_ACCESS_TOKEN_FILE'],
    prefixes: ['NOTIFICATION_SERVICE_', 'OPS_ALERT_'],
  },
  { feature: 'the Lite-mode reservation feed (labops reads lab_reservations)', prefixes: ['RESERVATION_PROJECTION_'] },
  { feature: "OpenResty's own token (read by the proxy, not by the worker)", names: ['OPS_SECRET', 'OPS_API_URL'] },
  {
    feature: "a WinRM knob labops does not need (its receive loop asks again after each OperationTimeout, as pywinrm's does, within the command's deadline)",
    names: ['OPS_WINRM_OPERATION_TIMEOUT'],
  },
];

/** The unprovided feature a variable configures, or undefined. */
export function unprovidedFeature(name: string): string | undefined {
  return UPSTREAM_UNPROVIDED_ENV.find((f) => f.names?.includes(name) || f.prefixes?.some((p) => name.startsWith(p)))?.feature;
}

/** The table widened to its definition type, for code that walks every setting. */
export const SETTING_DEFS: readonly SettingDef[] = SETTINGS;

export function settingByKey(key: string): SettingDef | undefined {
  return SETTING_DEFS.find((s) => s.key === key);
}

export function defaultOf(def: SettingDef, env: NodeJS.ProcessEnv): string | undefined {
  return typeof def.default === 'function' ? def.default(env) : def.default;
}
