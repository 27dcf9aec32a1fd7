// labops labs sync|list|history and the daemon's labs loop: the CML servers of the config file, one API
// client per server, the lab cache in the database and the notify hook.
import type { AppContext } from './context.js';
import type { CmlLabStore } from '../core/db/cml-lab-store.js';
import type { CmlServerConfig, ResolvedCmlServer } from '../core/config/cml.js';
import type { LabsSyncResult, ServerSyncResult } from '../ops/labs-sync.js';
import type { HistoryEntry, LabEvent, LabRecord } from '../domain/labs/record.js';
import { UsageError } from '../domain/errors.js';
import type { Outcome } from '../domain/outcome.js';
import { cmlSettings } from './settings.js';
import { cmlConnector, notifier } from './clients.js';

/** The configured CML servers (the `cml.servers` section, validated once per configuration). */
export function cmlServers(ctx: AppContext): Promise<CmlServerConfig[]> {
  return ctx.perConfig('cml.servers', async (cfg) => {
    const { parseCmlServers } = await import('../core/config/cml.js');
    return parseCmlServers(cfg.raw, cfg.file);
  });
}

/** The lab cache; `create: false` for the commands that only read it. Its tables are checked before any work. */
export async function labStore(ctx: AppContext, opts: { create?: boolean } = {}): Promise<CmlLabStore> {
  const db = await ctx.database(opts);
  const [{ requireTables }, { CmlLabStore }] = await Promise.all([import('../core/db/migrations.js'), import('../core/db/cml-lab-store.js')]);
  await requireTables(db, ['cml_lab_records', 'cml_lab_history']);
  return new CmlLabStore(db.kysely, db.dialect);
}

export interface SyncOptions {
  /** server ids; all when empty */
  server?: readonly string[];
  purge?: boolean;
  concurrency?: number;
  labConcurrency?: number;
  timeout?: number;
  acceptEmptyList?: boolean;
  /** delete orphaned records older than cml.orphan-retention (the daemon) */
  expireOrphans?: boolean;
}

export interface SyncHooks {
  onEvent?(e: LabEvent): void;
  onServer?(r: ServerSyncResult): void;
}

/**
 * Syncs the servers (every input checked before any controller is contacted). `share` narrows them to this
 * instance's shard (the daemon). Returns the result and the resolved servers (for hints naming the config path).
 */
export async function syncCmlLabs(ctx: AppContext, o: SyncOptions, hooks: SyncHooks = {}, share?: (servers: CmlServerConfig[]) => CmlServerConfig[]): Promise<{ result: LabsSyncResult; servers: ResolvedCmlServer[]; outcomes: Outcome[] }> {
  const [cfg, configured, { selectCmlServers, resolveCmlServer }] = await Promise.all([ctx.config(), cmlServers(ctx), import('../core/config/cml.js')]);
  const selected = share ? share(configured) : selectCmlServers(configured, o.server, cfg.file);
  const servers = selected.map((s) => resolveCmlServer(s, cfg.file, ctx.env));
  const s = cmlSettings(cfg, o);
  const [store, notify, connect, { syncLabs, syncOutcomes }, { randomUUID }] = await Promise.all([labStore(ctx), notifier(ctx), cmlConnector({ timeoutMs: s.timeoutMs, maxSockets: s.labConcurrency }), import('../ops/labs-sync.js'), import('node:crypto')]);
  const byId = new Map(servers.map((x) => [x.id, x]));
  const clients: { close(): void }[] = [];
  try {
    const result = await syncLabs(
      servers,
      { concurrency: s.concurrency, labConcurrency: s.labConcurrency, purge: Boolean(o.purge), orphanRetentionMs: o.expireOrphans && s.orphanRetentionMs > 0 ? s.orphanRetentionMs : undefined, acceptEmptyList: o.acceptEmptyList },
      {
        connect: (ref) => {
          const c = connect(byId.get(ref.id)!);
          clients.push(c);
          return c;
        },
        store,
        now: ctx.clock.now,
        newId: randomUUID,
        notify: notify ? (events) => notify.send('cml.labs', events) : undefined,
      },
      ctx.signal,
      hooks,
    );
    return { result, servers, outcomes: syncOutcomes(result) };
  } finally {
    for (const c of clients) c.close();
  }
}

/**
 * Server ids a reading command was given: each must be configured or have labs cached; an unknown one is a usage
 * error naming the closest known id (a typo must not read as "no labs").
 */
async function knownServers(ctx: AppContext, store: CmlLabStore, ids: readonly string[] | undefined): Promise<void> {
  if (!ids?.length) return;
  const configured = (await cmlServers(ctx)).map((s) => s.id);
  const unknown = ids.filter((id) => !configured.includes(id));
  if (!unknown.length) return;
  const cached = [...new Set((await store.list({ includeOrphans: true })).map((r) => r.serverId))];
  const missing = unknown.find((id) => !cached.includes(id));
  if (missing === undefined) return;
  const { didYouMean, someNames } = await import('../domain/closest-name.js');
  const known = [...new Set([...configured, ...cached])];
  throw new UsageError(`unknown CML server '${missing}'${didYouMean(missing, known)}: not configured and no labs cached for it`, {
    suggestion: known.length ? `known servers: ${someNames(known)}` : 'servers come from the "cml": {"servers": [...]} section of the config file',
  });
}

export async function listLabs(ctx: AppContext, o: { server?: readonly string[]; includeOrphans?: boolean }): Promise<LabRecord[]> {
  const store = await labStore(ctx, { create: false });
  await knownServers(ctx, store, o.server);
  return store.list({ serverIds: o.server ? [...o.server] : undefined, includeOrphans: o.includeOrphans });
}

/** The cached labs as CML Cloud Manager lab_records documents, each with its history. */
export async function labRecordDocuments(ctx: AppContext, o: { server?: readonly string[]; includeOrphans?: boolean }): Promise<unknown[]> {
  const store = await labStore(ctx, { create: false });
  await knownServers(ctx, store, o.server);
  const records = await store.list({ serverIds: o.server ? [...o.server] : undefined, includeOrphans: o.includeOrphans });
  const [{ toLabRecordDocument }, { historyKey }] = await Promise.all([import('../domain/labs/shapes.js'), import('../core/db/cml-lab-store.js')]);
  const history = await store.history(records);
  return records.map((r) => toLabRecordDocument(r, history.get(historyKey(r.serverId, r.labId)) ?? []));
}

/** One lab's change history; the lab must be cached, and on one server unless `server` says which. */
export async function labHistory(ctx: AppContext, labId: string, server?: string): Promise<{ record: LabRecord; entries: HistoryEntry[] }> {
  const store = await labStore(ctx, { create: false });
  await knownServers(ctx, store, server === undefined ? undefined : [server]);
  const found = await store.findLab(labId, server);
  if (found.length === 0) {
    // an unknown lab id is a name the cache does not know, like an unknown host: a usage error with the closest id
    const { didYouMean } = await import('../domain/closest-name.js');
    const ids = (await store.list({ serverIds: server === undefined ? undefined : [server], includeOrphans: true })).map((r) => r.labId);
    throw new UsageError(`no cached lab ${labId}${server ? ` on ${server}` : ''}${didYouMean(labId, ids)}`, { suggestion: 'see labops labs list --include-orphaned' });
  }
  if (found.length > 1) throw new UsageError(`lab ${labId} is cached for several servers (${found.map((r) => r.serverId).join(', ')})`, { suggestion: 'pass --server <id>' });
  const record = found[0]!;
  const { historyKey } = await import('../core/db/cml-lab-store.js');
  return { record, entries: (await store.history([record])).get(historyKey(record.serverId, record.labId)) ?? [] };
}
