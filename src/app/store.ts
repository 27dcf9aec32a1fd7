// labops db migrate|status, config show and doctor: the database's schema, the effective configuration with
// the source of each value, and the read-only checks.
import type { AppContext } from './context.js';
import type { MigrationStatus } from '../core/db/migrations.js';
import type { CheckResult } from '../ops/doctor.js';
import type { LabopsConfig } from '../core/config/load.js';

export interface StoreStatus {
  /** the URL without its password */
  database: string;
  /** false: the embedded store has not been created yet (the first command that stores creates it) */
  exists: boolean;
  migrations: MigrationStatus[];
  complete: boolean;
}

export async function migrateStore(ctx: AppContext, o: { createForeign?: boolean }): Promise<StoreStatus> {
  const [db, { migrate, isComplete }] = await Promise.all([ctx.database({ upgrade: false }), import('../core/db/migrations.js')]);
  const migrations = await migrate(db.kysely, db.dialect, { createForeign: o.createForeign });
  return { database: db.url, exists: true, migrations, complete: isComplete(migrations) };
}

export async function storeStatus(ctx: AppContext): Promise<StoreStatus> {
  const db = await ctx.database({ create: false, upgrade: false });
  if (db.ephemeral) return { database: db.url, exists: false, migrations: [], complete: true };
  const { migrationStatus, isComplete } = await import('../core/db/migrations.js');
  const migrations = await migrationStatus(db.kysely, db.dialect);
  return { database: db.url, exists: true, migrations, complete: isComplete(migrations) };
}

export interface ConfigView {
  configFile: string | null;
  settings: { key: string; value: string | null; source: string }[];
  inventory: { file: string | null; hosts: number } | { error: string };
}

/**
 * Every setting with its value (database passwords and secrets redacted) and where it came from, then the config
 * file's sections: each CML server and the notify hook, their secrets shown as references or <redacted>.
 */
export async function effectiveConfig(ctx: AppContext): Promise<ConfigView> {
  const [cfg, { describeSource }, { redactDbUrl }] = await Promise.all([ctx.config(), import('../core/config/load.js'), import('../core/db/url.js')]);
  const settings = cfg.entries().map((s) => ({ key: s.key, value: s.value === undefined ? null : s.key === 'db' ? redactDbUrl(s.value) : s.value, source: describeSource(s.source) }));
  settings.push(...(await sectionRows(cfg)));
  let inventory: ConfigView['inventory'];
  try {
    const index = await ctx.inventory();
    inventory = { file: index.inventory.file ?? null, hosts: index.hosts.length };
  } catch (e) {
    inventory = { error: (e as Error).message };
  }
  return { configFile: cfg.file ?? null, settings, inventory };
}

async function sectionRows(cfg: LabopsConfig): Promise<ConfigView['settings']> {
  const [{ parseCmlServers }, { parseNotifyConfig }, { redactSecret }] = await Promise.all([import('../core/config/cml.js'), import('../core/notify.js'), import('../core/config/secrets.js')]);
  const source = cfg.file ?? '(none)';
  const rows = parseCmlServers(cfg.raw, cfg.file).map((s) => ({
    key: s.path,
    value: `${s.id} ${s.url} user ${s.username} password ${redactSecret(s.password)}${s.ca ? ` ca ${s.ca}` : ''}${s.insecure ? ' insecure' : ''}`,
    source,
  }));
  const n = parseNotifyConfig(cfg.raw, cfg.file);
  if (n) rows.push({ key: 'notify', value: [n.command ? `command ${n.command.join(' ')}` : '', n.webhook ? `webhook ${redactSecret(n.webhook)}` : '', `timeout ${n.timeoutMs / 1000}s`].filter(Boolean).join(', '), source });
  return rows;
}

/** The read-only checks: the database is opened read-only, nothing is created or changed. */
export async function doctor(ctx: AppContext, o: { sampleHosts: number; timeoutMs: number }): Promise<CheckResult[]> {
  const [{ runDoctor }, { probe }] = await Promise.all([import('../ops/doctor.js'), import('../core/net/probe.js')]);
  const database = async () => {
    const [{ openDatabase }, { dbPassword }, cfg] = await Promise.all([import('../core/db/database.js'), import('../core/config/secrets.js'), ctx.config()]);
    const db = await openDatabase(cfg.value('db'), { readOnly: true, password: dbPassword(cfg, ctx.env) });
    ctx.onClose(() => db.close());
    return db;
  };
  return runDoctor({ config: ctx.config, inventory: ctx.inventory, database, probe, env: ctx.env }, o);
}
