// labops servers check: for every enabled server, one SSH round trip collecting OS, virtualization,
// uptime, sshd state, CPU/memory/disk %, stored in server_metrics; HOST_DOWN/SSHD_DOWN (and optional
// threshold) alerts kept to one active row per server and type, cleared on recovery; retention.
import { formatDbTime } from '../../domain/db-time.js';
import { mapPool } from '../../domain/pool.js';
import { desiredAlerts, parseServerProbe, planAlerts, serverProbeScript, type ServerCheck, type Thresholds } from '../../domain/server-metrics.js';
import { AuthFailed } from '../../domain/errors.js';
import type { CollectorRepo, MetricRow, ServerRow } from '../../core/db/repo-collector.js';
import type { ExtraAuth, RemoteRunner } from './ports.js';

export interface ServersConfig {
  timeoutMs: number;
  concurrency: number;
  cpuSampleMs: number;
  thresholds: Thresholds;
  /** delete server_metrics rows older than this; undefined keeps everything (as the collector did) */
  retentionMs?: number;
  auth: ExtraAuth;
}

export interface ServersDeps {
  repo: CollectorRepo;
  ssh: RemoteRunner;
  now(): number;
  /** the servers this instance checks (the daemon's shard); default all enabled ones */
  share?(servers: ServerRow[]): ServerRow[];
}

export interface ServerResult {
  serverId: number;
  host: string | null;
  state: 'up' | 'down' | 'login-failed' | 'invalid';
  sshdStatus: string | null;
  /** user CPU % (top's `us`), as stored in server_metrics.cpu_usage */
  cpuUsage: number | null;
  /** total busy %, what CPU_HIGH is judged by (not stored) */
  cpuBusy: number | null;
  memUsage: number | null;
  diskUsage: number | null;
  alertsOpened: string[];
  alertsCleared: string[];
  message: string;
}

export interface ServersPassResult {
  servers: ServerResult[];
  pruned: number;
}

async function checkOne(deps: ServersDeps, cfg: ServersConfig, s: ServerRow, signal?: AbortSignal): Promise<ServerResult> {
  const address = s.ip_address?.trim() || s.hostname?.trim();
  const username = s.ssh_user?.trim() || cfg.auth.defaultUser;
  const empty = { serverId: s.id, sshdStatus: null, cpuUsage: null, cpuBusy: null, memUsage: null, diskUsage: null, alertsOpened: [], alertsCleared: [] };
  if (!address) return { ...empty, host: null, state: 'invalid', message: `server ${s.id} has no ip_address or hostname` };
  if (!username) return { ...empty, host: address, state: 'invalid', message: `server ${s.id} has no ssh_user` };
  const port = s.ssh_port && s.ssh_port > 0 && s.ssh_port < 65536 ? s.ssh_port : 22;
  let check: ServerCheck;
  try {
    const r = await deps.ssh.run(
      { host: address, port, username, password: s.ssh_password, privateKey: cfg.auth.privateKey, passphrase: cfg.auth.passphrase, agent: cfg.auth.agent },
      serverProbeScript(cfg.cpuSampleMs),
      { timeoutMs: cfg.timeoutMs, signal },
    );
    check = r.timedOut ? { state: 'down', reason: `no answer within ${Math.round(cfg.timeoutMs / 1000)}s` } : { state: 'up', metrics: parseServerProbe(r.stdout) };
  } catch (e) {
    const reason = (e as Error).message;
    check = e instanceof AuthFailed ? { state: 'login-failed', reason } : { state: 'down', reason };
  }
  const now = formatDbTime(deps.now());
  const row: MetricRow =
    check.state === 'up'
      ? { server_id: s.id, os_version: check.metrics.osVersion, virtualization: check.metrics.virtualization, uptime: check.metrics.uptime, sshd_status: check.metrics.sshdStatus, reachable: 1, cpu_usage: check.metrics.cpuUsage, mem_usage: check.metrics.memUsage, disk_usage: check.metrics.diskUsage, collected_at: now }
      : { server_id: s.id, os_version: 'NA', virtualization: 'NA', uptime: 'NA', sshd_status: check.state === 'down' ? 'down' : 'login-failed', reachable: check.state === 'down' ? 0 : 1, cpu_usage: 0, mem_usage: 0, disk_usage: 0, collected_at: now };
  await deps.repo.insertMetric(row);
  const plan = planAlerts(await deps.repo.activeAlertTypes(s.id), desiredAlerts(check, cfg.thresholds));
  const opened: string[] = [];
  for (const a of plan.open) if (await deps.repo.openAlert(s.id, a.type, a.message, now)) opened.push(a.type);
  await deps.repo.clearAlerts(s.id, plan.clear);
  return {
    serverId: s.id,
    host: `${address}:${port}`,
    state: check.state,
    sshdStatus: row.sshd_status,
    cpuUsage: check.state === 'up' ? row.cpu_usage : null,
    cpuBusy: check.state === 'up' ? check.metrics.cpuBusy : null,
    memUsage: check.state === 'up' ? row.mem_usage : null,
    diskUsage: check.state === 'up' ? row.disk_usage : null,
    alertsOpened: opened,
    alertsCleared: plan.clear,
    message: check.state === 'up' ? (check.metrics.problems.length ? check.metrics.problems.join('; ') : 'ok') : check.reason,
  };
}

export async function checkServersOnce(deps: ServersDeps, cfg: ServersConfig, signal?: AbortSignal, onResult?: (r: ServerResult) => void): Promise<ServersPassResult> {
  await deps.repo.checkSchema('servers');
  const enabled = await deps.repo.enabledServers();
  const servers = deps.share ? deps.share(enabled) : enabled;
  const results = await mapPool(servers, cfg.concurrency, async (s) => {
    const r = await checkOne(deps, cfg, s, signal);
    onResult?.(r);
    return r;
  }, signal);
  const pruned = cfg.retentionMs !== undefined ? await deps.repo.pruneMetrics(formatDbTime(deps.now() - cfg.retentionMs)) : 0;
  return { servers: results.filter(Boolean), pruned };
}
