// labops db migrate|status, config show and doctor: the database's schema, the effective configuration with
// the source of each value, and the read-only checks.
import type { AppContext } from './context.js';
import type { Database } from '../core/db/database.js';
import type { MigrationStatus, Part } from '../core/db/migrations.js';
import { UsageError } from '../domain/errors.js';
import type { CheckResult } from '../ops/doctor.js';
import type { LabopsConfig } from '../core/config/load.js';

export interface StoreStatus {
  /** the URL without its password */
  database: string;
  /** false: the embedded store has not been created yet (the first command that stores creates it) */
  exists: boolean;
  /** the parts whose tables are shown (and created by migrate) */
  parts: Part[];
  migrations: MigrationStatus[];
  complete: boolean;
}

/** --only: part names (gateway, collector, cml, daemon), daemon loop names (their parts) or `all`. */
async function namedParts(only: readonly string[]): Promise<Part[]> {
  const [{ PART_NAMES, isPart }, { LOOP_NEEDS }, { isLoopName, SHARDED_LOOPS }] = await Promise.all([
    import('../core/db/migrations.js'),
    import('../ops/daemon/plan.js'),
    import('../domain/daemon-loops.js'),
  ]);
  const parts = new Set<Part>();
  for (const n of only) {
    if (n === 'all') PART_NAMES.forEach((p) => parts.add(p));
    else if (isPart(n)) parts.add(n);
    else if (isLoopName(n)) {
      LOOP_NEEDS[n].parts.forEach((p) => parts.add(p));
      if (SHARDED_LOOPS.includes(n)) parts.add('daemon');
    } else throw new UsageError(`--only: unknown part '${n}' (parts: ${PART_NAMES.join(', ')}, all, or daemon loop names)`);
  }
  return PART_NAMES.filter((p) => parts.has(p));
}

/**
 * The parts a database gets tables for: those named by --only, else every part on SQLite (labops' own store, no
 * other system's database), else those it already has plus those the daemon would run with this configuration;
 * a new database that nothing configured uses gets every part.
 */
async function chosenParts(ctx: AppContext, db: Database, only?: readonly string[]): Promise<Part[]> {
  if (only?.length) return namedParts(only);
  const [{ partsInDatabase, PART_NAMES }, { partsOf }, { loopPlan }] = await Promise.all([import('../core/db/migrations.js'), import('../ops/daemon/plan.js'), import('./daemon/plan.js')]);
  if (db.dialect === 'sqlite') return [...PART_NAMES];
  const chosen = new Set(await partsInDatabase(db.kysely, db.dialect));
  try {
    for (const p of partsOf(await loopPlan(ctx, { db }))) chosen.add(p);
  } catch (e) {
    ctx.warn(`could not tell which parts the configuration uses (${(e as Error).message.split('\n')[0]}); going by the tables the database has`);
  }
  return chosen.size ? PART_NAMES.filter((p) => chosen.has(p)) : [...PART_NAMES];
}

export async function migrateStore(ctx: AppContext, o: { createForeign?: boolean; only?: string[] }): Promise<StoreStatus> {
  const [db, { migrate, isComplete }] = await Promise.all([ctx.database({ upgrade: false }), import('../core/db/migrations.js')]);
  const parts = await chosenParts(ctx, db, o.only);
  const migrations = await migrate(db.kysely, db.dialect, { createForeign: o.createForeign, parts });
  return { database: db.url, exists: true, parts, migrations, complete: isComplete(migrations) };
}

export async function storeStatus(ctx: AppContext, o: { only?: string[] } = {}): Promise<StoreStatus> {
  const db = await ctx.database({ create: false, upgrade: false });
  if (db.ephemeral) return { database: db.url, exists: false, parts: [], migrations: [], complete: true };
  const { migrationStatus, isComplete } = await import('../core/db/migrations.js');
  const parts = await chosenParts(ctx, db, o.only);
  const migrations = await migrationStatus(db.kysely, db.dialect, parts);
  return { database: db.url, exists: true, parts, migrations, complete: isComplete(migrations) };
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
  // the Lab Gateway's variables of features labops does not provide: listed with the feature, never their value
  const { unprovidedVariables } = await import('./daemon/environment.js');
  for (const g of unprovidedVariables(ctx.env)) for (const name of g.names) settings.push({ key: name, value: `not used: ${g.feature} is not provided by labops`, source: `$${name}` });
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
  let opened: Promise<Database> | undefined;
  const database = () =>
    (opened ??= (async () => {
      const [{ openDatabase }, { dbPassword }, cfg] = await Promise.all([import('../core/db/database.js'), import('../core/config/secrets.js'), ctx.config()]);
      const db = await openDatabase(cfg.value('db'), { readOnly: true, password: dbPassword(cfg, ctx.env) });
      ctx.onClose(() => db.close());
      return db;
    })());
  // what the daemon would run, from the same plan it makes at start (the database opened read-only)
  const daemonPlan = async () => {
    const { loopPlan } = await import('./daemon/plan.js');
    const db = await database().catch((e: Error) => e);
    if (!(db instanceof Error)) return loopPlan(ctx, { db });
    const why = `the database is unreachable (${db.message.split('\n')[0]})`;
    const { needsDatabase } = await import('../ops/daemon/plan.js');
    return (await loopPlan(ctx, { noDatabase: why })).map((l) => (l.run && needsDatabase(l.name) ? { ...l, run: false, reason: why } : l));
  };
  return runDoctor({ config: ctx.config, inventory: ctx.inventory, database, probe, env: ctx.env, daemonPlan }, o);
}
