// One typed settings reader per use case: the config's values (parsed once when it was loaded) with the
// command's flags over them. Commands and daemon loops read their settings here and nowhere else.
import type { LabopsConfig } from '../core/config/load.js';
import type { WakeDefaults } from '../ops/wake.js';
import type { ReservationSettings } from '../ops/reservations/run.js';
import type { ScanConfig } from '../ops/reservations/scan.js';
import type { ProvisionConfig } from '../ops/provisioning/sessions.js';
import type { ServersConfig } from '../ops/provisioning/servers.js';
import type { ExtraAuth } from '../ops/provisioning/ports.js';
import type { ApiLimits } from '../ops/api/server.js';
import type { AlertThresholds } from '../domain/heartbeat/alerts.js';
import { parseProbeSpec } from '../domain/probe-spec.js';
import { parseContract } from '../domain/provision-contract.js';
import { UsageError } from '../domain/errors.js';
import { describeSource } from '../core/config/load.js';
import type { SettingKey } from '../core/config/settings.js';

/** The wol.* settings: flags and the inventory override them per host. */
export function wakeSettings(cfg: LabopsConfig): WakeDefaults {
  return {
    broadcast: cfg.value('wol.broadcast'),
    port: cfg.value('wol.port'),
    repeat: cfg.value('wol.repeat'),
    attempts: cfg.value('wol.attempts'),
    intervalMs: cfg.value('wol.interval'),
    timeoutMs: cfg.value('wol.timeout'),
    concurrency: cfg.value('wol.concurrency'),
    probe: parseProbeSpec(cfg.value('wol.probe')) ?? { kind: 'icmp' },
  };
}

export interface PollSettings {
  source: 'winrm' | 'file';
  /** the file source's path template */
  path: string;
  concurrency: number;
  intervalMs: number;
  timeoutMs: number;
  /** heartbeat.max-size */
  maxBytes: number;
  /** heartbeat.clock-skew */
  clockSkewMs: number;
}

export function pollSettings(cfg: LabopsConfig, flags: { source?: 'winrm' | 'file'; path?: string; concurrency?: number } = {}): PollSettings {
  return {
    source: flags.source ?? (cfg.value('heartbeat.source') as 'winrm' | 'file'),
    path: flags.path ?? cfg.value('heartbeat.path'),
    concurrency: flags.concurrency ?? cfg.value('heartbeat.concurrency'),
    intervalMs: cfg.value('heartbeat.interval'),
    timeoutMs: cfg.value('heartbeat.timeout'),
    maxBytes: cfg.value('heartbeat.max-size'),
    clockSkewMs: cfg.value('heartbeat.clock-skew'),
  };
}

export function alertSettings(cfg: LabopsConfig): AlertThresholds {
  return {
    notReadyMs: cfg.value('alerts.not-ready'),
    localSessionLeadMs: cfg.value('alerts.local-session-lead'),
    localModeLookaheadMs: cfg.value('alerts.local-mode-lookahead'),
    staleEvictionMs: cfg.value('alerts.stale-eviction'),
    missingIntervals: cfg.value('alerts.missing-intervals'),
    // a share polled every 20 s still sees a station's heartbeat change once a minute
    heartbeatIntervalMs: Math.max(cfg.value('heartbeat.interval'), cfg.value('heartbeat.station-interval')),
    clockSkewMs: cfg.value('heartbeat.clock-skew'),
  };
}

export function reservationSettings(cfg: LabopsConfig): ReservationSettings {
  return { wake: wakeSettings(cfg), commandTimeoutMs: cfg.value('reservations.command-timeout'), journalRetryMs: [500, 1000, 2000, 4000] };
}

export function scanSettings(cfg: LabopsConfig, flags: { concurrency?: number; batch?: number } = {}): ScanConfig & { intervalMs: number } {
  return {
    startLeadMs: cfg.value('reservations.start-lead'),
    endDelayMs: cfg.value('reservations.end-delay'),
    lookbackMs: cfg.value('reservations.lookback'),
    batch: flags.batch ?? cfg.value('reservations.batch'),
    concurrency: flags.concurrency ?? cfg.value('reservations.concurrency'),
    leaseMs: cfg.value('reservations.lease'),
    backoff: { baseMs: cfg.value('reservations.backoff-base'), maxMs: cfg.value('reservations.backoff-max') },
    guardGrace: cfg.value('reservations.guard-grace'),
    rebootTimeout: cfg.value('reservations.reboot-timeout'),
    intervalMs: cfg.value('reservations.scan-interval'),
  };
}

export interface SshFlags {
  acceptNew?: boolean;
  jump?: string;
  knownHosts?: string;
}

export interface SshSettings {
  knownHostsFile: string;
  hostKeyMode: 'strict' | 'accept-new';
  connectTimeoutMs: number;
  maxOutputBytes: number;
  channelsPerConnection: number;
  /** user@host[:port], not yet parsed */
  jump?: string;
  jumpPassword?: string;
  identity?: string;
  identityPassphrase?: string;
  agent?: string;
  defaultUser?: string;
}

export function sshSettings(cfg: LabopsConfig, flags: SshFlags = {}): SshSettings {
  return {
    knownHostsFile: flags.knownHosts ?? cfg.value('ssh.known-hosts'),
    hostKeyMode: flags.acceptNew ? 'accept-new' : (cfg.value('ssh.host-key-policy') as 'strict' | 'accept-new'),
    connectTimeoutMs: cfg.value('ssh.connect-timeout'),
    maxOutputBytes: cfg.value('ssh.max-output'),
    channelsPerConnection: cfg.value('ssh.channels-per-connection'),
    jump: flags.jump ?? cfg.value('ssh.jump'),
    jumpPassword: cfg.value('ssh.jump-password'),
    identity: cfg.value('ssh.identity'),
    identityPassphrase: cfg.value('ssh.identity-passphrase'),
    agent: cfg.value('ssh.agent'),
    defaultUser: cfg.value('ssh.user'),
  };
}

export interface ProvisionFlags {
  concurrency?: number;
  timeout?: number;
  interval?: number;
  contract?: string;
}

export type ProvisionSettings = Omit<ProvisionConfig, 'auth'> & { intervalMs: number };

export function provisionSettings(cfg: LabopsConfig, job: 'sessions' | 'cleanup', flags: ProvisionFlags = {}): ProvisionSettings {
  const timeoutMs = flags.timeout ?? cfg.value('provision.timeout');
  return {
    contract: parseContract(flags.contract ?? cfg.value('provision.contract'))!,
    timeoutMs,
    concurrency: flags.concurrency ?? cfg.value('provision.concurrency'),
    batch: cfg.value('provision.batch'),
    backoff: { baseMs: cfg.value('provision.backoff-base'), maxMs: cfg.value('provision.backoff-max') },
    // a claim outlives the longest possible attempt only when its instance died
    staleAfterMs: timeoutMs + cfg.value('ssh.connect-timeout') * 2 + 60_000,
    intervalMs: flags.interval ?? cfg.value(job === 'sessions' ? 'provision.interval' : 'provision.cleanup-interval'),
  };
}

export type ServersSettings = Omit<ServersConfig, 'auth'> & { intervalMs: number };

export function serversSettings(cfg: LabopsConfig, flags: { concurrency?: number; timeout?: number; interval?: number } = {}): ServersSettings {
  return {
    timeoutMs: flags.timeout ?? cfg.value('servers.timeout'),
    concurrency: flags.concurrency ?? cfg.value('servers.concurrency'),
    cpuSampleMs: cfg.value('servers.cpu-sample'),
    thresholds: { cpu: cfg.value('servers.cpu-threshold'), mem: cfg.value('servers.mem-threshold'), disk: cfg.value('servers.disk-threshold') },
    retentionMs: cfg.value('servers.metrics-retention'),
    intervalMs: flags.interval ?? cfg.value('servers.interval'),
  };
}

export interface CmlSettings {
  concurrency: number;
  labConcurrency: number;
  timeoutMs: number;
  refreshIntervalMs: number;
  /** orphaned records older than this are deleted by the daemon; 0 keeps them */
  orphanRetentionMs: number;
}

export function cmlSettings(cfg: LabopsConfig, flags: { concurrency?: number; labConcurrency?: number; timeout?: number } = {}): CmlSettings {
  return {
    concurrency: flags.concurrency ?? cfg.value('cml.concurrency'),
    labConcurrency: flags.labConcurrency ?? cfg.value('cml.lab-concurrency'),
    timeoutMs: flags.timeout ?? cfg.value('cml.timeout'),
    refreshIntervalMs: cfg.value('cml.refresh-interval'),
    orphanRetentionMs: cfg.value('cml.orphan-retention'),
  };
}

export interface DaemonSettings {
  leaseMs: number;
  /** a fraction of each interval, 0 … 0.5 */
  jitter: number;
  stopTimeoutMs: number;
  pollEnabled: boolean;
  automation: boolean;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export function daemonSettings(cfg: LabopsConfig): DaemonSettings {
  const level = cfg.value('daemon.log-level');
  return {
    leaseMs: cfg.value('daemon.lease'),
    jitter: Math.min(0.5, Math.max(0, cfg.value('daemon.jitter') / 100)),
    stopTimeoutMs: cfg.value('daemon.stop-timeout'),
    pollEnabled: cfg.value('heartbeat.poll-enabled'),
    automation: cfg.value('reservations.automation'),
    logLevel: level === 'warning' ? 'warn' : level === 'critical' ? 'error' : (level as DaemonSettings['logLevel']),
  };
}

const SOURCE_RANK = { flag: 4, env: 3, file: 2, default: 1, unset: 0 } as const;

/** "api.port (from $OPS_PORT)": where a value came from, for messages that refuse it. */
export function settingWhere(cfg: LabopsConfig, key: SettingKey): string {
  return `${key} (from ${describeSource(cfg.setting(key).source)})`;
}

/**
 * The API's address: --listen, else each part from the strongest source among api.listen and the part's own
 * setting (api.bind / OPS_BIND, api.port / OPS_PORT; the specific one wins a tie).
 */
export function apiListen(cfg: LabopsConfig, flag?: string): { host: string; port: number } {
  const split = (v: string, what: string) => {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(v.trim());
    if (!m || Number(m[3]) > 65535) throw new UsageError(`${what}: expected address:port, e.g. 127.0.0.1:8081, got '${v}'`);
    return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
  };
  if (flag !== undefined) return split(flag, '--listen');
  const listen = cfg.setting('api.listen');
  const whole = listen.value !== undefined ? split(listen.value, settingWhere(cfg, 'api.listen')) : undefined;
  const rank = (k: SettingKey) => SOURCE_RANK[cfg.setting(k).source.kind];
  const port = cfg.value('api.port');
  if (port > 65535) throw new UsageError(`${settingWhere(cfg, 'api.port')}: expected a port from 0 to 65535, got ${port}`);
  const bind = cfg.value('api.bind').trim();
  if (!bind || /\s/.test(bind)) throw new UsageError(`${settingWhere(cfg, 'api.bind')}: expected an address, got '${cfg.get('api.bind')}'`);
  return {
    host: whole && rank('api.listen') > rank('api.bind') ? whole.host : bind.replace(/^\[(.*)\]$/, '$1'),
    port: whole && rank('api.listen') > rank('api.port') ? whole.port : port,
  };
}

/** The API's limits (body size, header/body/keep-alive timeouts, connection caps) and its upstream policy. */
export interface ApiSettings extends ApiLimits {
  tokenHeader: string;
  /** first words POST /api/winrm runs */
  allowedCommands: string[];
  allowedTransports: string[];
  streamIntervalMs: number;
  streamKeepAliveMs: number;
  maxStreams: number;
  timeline: { defaultLimit: number; maxOps: number; phaseLookback: number };
}

const list = (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean);

export function apiSettings(cfg: LabopsConfig): ApiSettings {
  const tokenHeader = cfg.value('api.token-header').trim();
  // an HTTP header name is a token (RFC 9110 §5.1); the ops-worker fell back to its default, labops refuses
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(tokenHeader)) throw new UsageError(`${settingWhere(cfg, 'api.token-header')}: '${tokenHeader}' is not an HTTP header name`);
  const allowedCommands = list(cfg.value('api.allowed-commands'));
  const odd = allowedCommands.find((c) => !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(c));
  if (odd !== undefined || allowedCommands.length === 0) throw new UsageError(`${settingWhere(cfg, 'api.allowed-commands')}: expected comma-separated LabStation command words, got '${odd ?? ''}'`);
  const allowedTransports = list(cfg.value('winrm.allowed-transports').toLowerCase());
  const unknown = allowedTransports.filter((t) => !['ntlm', 'kerberos', 'credssp', 'basic', 'plaintext', 'ssl', 'certificate'].includes(t));
  if (unknown.length || allowedTransports.length === 0) throw new UsageError(`${settingWhere(cfg, 'winrm.allowed-transports')}: unknown transport(s) ${unknown.join(', ') || '(none given)'}`);
  const maxOps = Math.max(1, cfg.value('api.timeline-max-ops'));
  return {
    tokenHeader,
    allowedCommands,
    allowedTransports,
    streamIntervalMs: Math.max(1000, cfg.value('api.stream-interval')),
    streamKeepAliveMs: Math.max(1000, cfg.value('api.stream-keepalive')),
    maxStreams: Math.max(1, cfg.value('api.max-streams')),
    timeline: { defaultLimit: Math.min(maxOps, Math.max(1, cfg.value('api.timeline-default-limit'))), maxOps, phaseLookback: Math.max(1, cfg.value('api.timeline-phase-lookback')) },
    maxBody: cfg.value('api.max-body'),
    headerTimeoutMs: Math.max(100, cfg.value('api.header-timeout')),
    bodyTimeoutMs: Math.max(100, cfg.value('api.body-timeout')),
    keepAliveTimeoutMs: Math.max(100, cfg.value('api.keep-alive-timeout')),
    maxConnections: Math.max(1, cfg.value('api.max-connections')),
    maxConnectionsPerClient: Math.max(1, cfg.value('api.max-connections-per-client')),
  };
}

export type { ExtraAuth };

/** The settings table (for docs and completion), read through the application layer. */
export { SETTING_DEFS, OTHER_ENV, defaultOf } from '../core/config/settings.js';
