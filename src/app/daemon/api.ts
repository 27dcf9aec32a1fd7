// The ops-worker HTTP API inside the daemon: the reservation ports, the heartbeat source and store, the token,
// and the inventory it answers from (replaced by SIGHUP and by /api/hosts/reload).
import type { AppContext } from '../context.js';
import type { Database } from '../../core/db/database.js';
import type { HostIndex } from '../../core/config/inventory.js';
import type { Logger } from '../../core/logger.js';
import { UsageError } from '../../domain/errors.js';
import { reservationSettings } from '../settings.js';
import { reservationPorts } from '../reserve.js';
import { heartbeatSource } from '../clients.js';
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

/** The API token: api.token (OPS_INTERNAL_AUTH_TOKEN), else OPS_INTERNAL_AUTH_TOKEN_FILE; never empty. */
export async function apiToken(ctx: AppContext): Promise<string | undefined> {
  const [cfg, { resolveSecret }, { readFileSync }] = await Promise.all([ctx.config(), import('../../core/config/secrets.js'), import('node:fs')]);
  const ref = cfg.value('api.token');
  let token: string | undefined;
  if (ref) token = resolveSecret(ref, 'api.token', ctx.env);
  else if (ctx.env.OPS_INTERNAL_AUTH_TOKEN_FILE) token = readFileSync(ctx.env.OPS_INTERNAL_AUTH_TOKEN_FILE, 'utf8').replace(/\r?\n$/, '');
  if (token !== undefined && token.length === 0) throw new UsageError('api.token is empty');
  return token;
}

export async function startApi(ctx: AppContext, o: { listen?: string; db?: Database; log: Logger; hooks: ApiHooks }): Promise<RunningApi> {
  const [cfg, { startOpsApi }, { loadInventory, HostIndex }, { createStatusPage }, token] = await Promise.all([
    ctx.config(),
    import('../../ops/api/server.js'),
    import('../../core/config/inventory.js'),
    import('../../ops/status-page/handler.js'),
    apiToken(ctx),
  ]);
  let index = await ctx.inventory();
  o.log.addSecret(token);
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
    listen: o.listen ?? cfg.value('api.listen'),
    maxBody: cfg.value('api.max-body'),
    index: () => index,
    reloadHosts: async () => {
      const setting = (await ctx.config()).setting('hosts');
      index = new HostIndex(loadInventory(setting.value!, setting.source.kind !== 'default'));
      return index.hosts.length;
    },
    db: o.db,
    ports: await reservationPorts(ctx, o.db),
    settings: reservationSettings(cfg),
    guardGrace: cfg.value('reservations.guard-grace'),
    rebootTimeout: cfg.value('reservations.reboot-timeout'),
    heartbeat: { source, sink },
    token,
    health: o.hooks.health,
    metrics: o.hooks.metrics,
    page: page.handle,
    log: (level, m) => (level === 'info' ? log.debug(m) : level === 'warn' ? log.warn(m) : log.error(m)),
    signal: ctx.stop,
  });
  log.info(`listening on ${api.url}${token ? ' (X-Ops-Internal-Token required on /api/*, the token on the status page)' : ''}`, { url: api.url });
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
