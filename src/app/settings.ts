// One typed settings reader per use case: the config's values (parsed once when it was loaded) with the
// command's flags over them. Commands and daemon loops read their settings here and nowhere else.
import type { LabopsConfig } from '../core/config/load.js';
import type { WakeDefaults } from '../ops/wake.js';
import type { ReservationSettings } from '../ops/reservations/run.js';
import type { ScanConfig } from '../ops/reservations/scan.js';
import type { ProvisionConfig } from '../ops/provisioning/sessions.js';
import type { ServersConfig } from '../ops/provisioning/servers.js';
import type { ExtraAuth } from '../ops/provisioning/ports.js';
import type { AlertThresholds } from '../domain/heartbeat/alerts.js';
import { parseProbeSpec } from '../domain/probe-spec.js';
import { parseContract } from '../domain/provision-contract.js';

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
    pollIntervalMs: cfg.value('heartbeat.interval'),
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
}

export function cmlSettings(cfg: LabopsConfig, flags: { concurrency?: number; labConcurrency?: number; timeout?: number } = {}): CmlSettings {
  return {
    concurrency: flags.concurrency ?? cfg.value('cml.concurrency'),
    labConcurrency: flags.labConcurrency ?? cfg.value('cml.lab-concurrency'),
    timeoutMs: flags.timeout ?? cfg.value('cml.timeout'),
    refreshIntervalMs: cfg.value('cml.refresh-interval'),
  };
}

export interface DaemonSettings {
  leaseMs: number;
  /** a fraction of each interval, 0 … 0.5 */
  jitter: number;
  stopTimeoutMs: number;
  pollEnabled: boolean;
}

export function daemonSettings(cfg: LabopsConfig): DaemonSettings {
  return {
    leaseMs: cfg.value('daemon.lease'),
    jitter: Math.min(0.5, Math.max(0, cfg.value('daemon.jitter') / 100)),
    stopTimeoutMs: cfg.value('daemon.stop-timeout'),
    pollEnabled: cfg.value('heartbeat.poll-enabled'),
  };
}

export type { ExtraAuth };

/** The settings table (for docs and completion), read through the application layer. */
export { SETTING_DEFS, OTHER_ENV, defaultOf } from '../core/config/settings.js';
