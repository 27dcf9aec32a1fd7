// The ops-worker HTTP API inside the daemon: its address, limits and policy from the settings, the reservation
// ports, the heartbeat source and store, the token, and the inventory it answers from (replaced by SIGHUP and by
// /api/hosts/reload).
import type { AppContext } from '../context.js';
import type { Database } from '../../core/db/database.js';
import type { HostIndex, InventoryHost } from '../../core/config/inventory.js';
import type { Logger } from '../../core/logger.js';
import { UsageError } from '../../domain/errors.js';
import { apiListen, apiSettings, reservationSettings, settingWhere } from '../settings.js';
import { reservationPorts } from '../reserve.js';
import { heartbeatSource, winrmConnector, winrmCredentialSources } from '../clients.js';
import { checkManagementCidrs } from './environment.js';
import type { StatusSnapshot } from '../../ops/status-page/model.js';

export interface ApiHooks {
  health(): Promise<{ extra: Record<string, unknown>; degraded: boolean }>;
  metrics(): Promise<string>;
  /** the status page's data (served at /) */
  status(): Promise<StatusSnapshot>;
}

export interface RunningApi {
  url: string;
  /** a loop run ended: open status pages hear of it now */
  poke(): void;
  onReload(index: HostIndex): void;
  close(): Promise<void>;
}

/** The API token: api.token (OPS_INTERNAL_AUTH_TOKEN or the file OPS_INTERNAL_AUTH_TOKEN_FILE names), trimmed; never empty. */
export async function apiToken(ctx: AppContext): Promise<string | undefined> {
  const [cfg, { resolveSecret }] = await Promise.all([ctx.config(), import('../../core/config/secrets.js')]);
  const ref = cfg.value('api.token');
  if (!ref) return undefined;
  // surrounding whitespace is never part of a token (the ops-worker strips it too)
  const token = resolveSecret(ref, 'api.token', ctx.env).trim();
  if (token.length === 0) throw new UsageError(`${settingWhere(cfg, 'api.token')} is empty`);
  return token;
}

/** The address the API will listen on (for the start checks). */
export async function apiAddress(ctx: AppContext, flag?: string): Promise<{ host: string; port: number }> {
  return apiListen(await ctx.config(), flag);
}

async function stationDeps(ctx: AppContext) {
  const sources = await winrmCredentialSources(ctx);
  const [{ resolveCredentials }, connect] = await Promise.all([import('../../core/config/credentials.js'), winrmConnector(ctx)]);
  return {
    credentialsConfigured: (h: InventoryHost) => {
      try {
        resolveCredentials(h, sources);
        return true;
      } catch {
        return false;
      }
    },
    powershell: async (h: InventoryHost, script: string, signal?: AbortSignal) => {
      const client = connect(h);
      try {
        const r = await client.runPowerShell(script, { signal, deadlineMs: 60_000 });
        if (r.exitCode !== 0) throw new Error(`PowerShell on ${h.name} exited ${r.exitCode}: ${r.stderr.trim().split('\n')[0] ?? ''}`);
      } finally {
        await client.close();
      }
    },
  };
}

export async function startApi(ctx: AppContext, o: { listen?: string; db?: Database; log: Logger; hooks: ApiHooks }): Promise<RunningApi> {
  const [cfg, { startOpsApi }, { HostIndex }, { loadCatalog }, { createStatusPage }, token] = await Promise.all([
    ctx.config(),
    import('../../ops/api/server.js'),
    import('../../core/config/inventory.js'),
    import('../../core/config/catalog.js'),
    import('../../ops/status-page/handler.js'),
    apiToken(ctx),
  ]);
  let index = await ctx.inventory();
  o.log.addSecret(token);
  const s = apiSettings(cfg);
  const source = await heartbeatSource(ctx, { kind: 'winrm', path: cfg.value('heartbeat.path'), timeoutMs: cfg.value('heartbeat.timeout') });
  let sink;
  if (o.db) {
    const db = o.db;
    const { storeHeartbeat } = await import('../../core/db/heartbeat-store.js');
    sink = { store: (i: Parameters<typeof storeHeartbeat>[1]) => storeHeartbeat(db, i) };
  }
  const log = o.log.child({ loop: 'api' });
  const page = createStatusPage({ snapshot: o.hooks.status, token, sampleMs: 1000, log: (level, m) => log[level](m) });
  const api = await startOpsApi({
    ...apiListen(cfg, o.listen),
    limits: s,
    policy: { allowedCommands: s.allowedCommands, allowedTransports: s.allowedTransports, timeline: s.timeline, stream: { intervalMs: s.streamIntervalMs, keepAliveMs: s.streamKeepAliveMs, maxStreams: s.maxStreams } },
    index: () => index,
    reloadHosts: async () => {
      const c = await ctx.config();
      const setting = c.setting('hosts');
      const next = new HostIndex(loadCatalog(setting.value!, setting.source.kind !== 'default', c.value('dynamic-hosts')));
      // as the ops-worker: a catalog outside the management networks is refused and the old one kept
      await checkManagementCidrs(c, next);
      index = next;
      return index.hosts.length;
    },
    db: o.db,
    ports: await reservationPorts(ctx, o.db),
    settings: reservationSettings(cfg),
    guardGrace: cfg.value('reservations.guard-grace'),
    rebootTimeout: cfg.value('reservations.reboot-timeout'),
    heartbeat: { source, sink },
    ...(await stationDeps(ctx)),
    token,
    tokenHeader: s.tokenHeader.toLowerCase(),
    health: o.hooks.health,
    metrics: o.hooks.metrics,
    page: page.handle,
    log: (level, m) => (level === 'info' ? log.debug(m) : level === 'warn' ? log.warn(m) : log.error(m)),
    signal: ctx.stop,
  });
  log.info(`listening on ${api.url}${token ? ` (${s.tokenHeader} required on /api/*, the token on the status page)` : ''}`, { url: api.url });
  return {
    url: api.url,
    onReload: (next) => {
      index = next;
    },
    poke: page.poke,
    close: async () => {
      page.close();
      await api.close();
      await source.close?.();
    },
  };
}
