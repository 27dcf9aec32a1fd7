// The application context: what every use case is assembled from, for commands and daemon loops alike
// (GitHub CLI's Factory, without the terminal). Everything is lazy: nothing is read, opened or imported until
// a use case asks for it, so `labops --help` and `labops dhcp-patch` load none of it.
import type { Clock } from '../core/clock.js';

export { systemClock } from '../core/clock.js';
import type { LabopsConfig } from '../core/config/load.js';
import type { HostIndex } from '../core/config/inventory.js';
import type { Database } from '../core/db/database.js';

/** The global options that locate the configuration. */
export interface Locations {
  config?: string;
  hosts?: string;
  db?: string;
  /** --db-password-file */
  dbPasswordFile?: string;
}

export interface StoreRequest {
  /** false for use cases that only read: no database file or directory is ever created */
  create?: boolean;
  /** false leaves the embedded store's schema as it is (db status and db migrate) */
  upgrade?: boolean;
}

export interface AppContext {
  readonly env: NodeJS.ProcessEnv;
  readonly clock: Clock;
  /** Cancels in-flight work: SIGINT, and SIGTERM for one-shot commands. Every op receives it. */
  readonly signal: AbortSignal;
  /** Stop claiming new work and let in-flight work finish: SIGTERM for loops. Aborted whenever `signal` is. */
  readonly stop: AbortSignal;
  config(): Promise<LabopsConfig>;
  inventory(): Promise<HostIndex>;
  /** Opened once per context and closed with it (the first call's request wins). */
  database(request?: StoreRequest): Promise<Database>;
  /**
   * A value built from the current configuration, kept until the configuration changes (SIGHUP), then closed
   * and built again on next use: clients whose settings come from the config (SSH, WinRM, CML, notifier).
   */
  perConfig<T>(key: string, build: (cfg: LabopsConfig) => Promise<T> | T, close?: (value: T) => Promise<void> | void): Promise<T>;
  /** Operator-facing warnings: a command's stderr, the daemon's log. */
  warn(message: string): void;
  /** Resources released when the context closes. */
  onClose(fn: () => Promise<void> | void): void;
}

export interface ContextInit {
  env: NodeJS.ProcessEnv;
  clock: Clock;
  signal: AbortSignal;
  stop?: AbortSignal;
  locations: () => Locations;
  warn: (message: string) => void;
  /** warnings about the configuration itself (unknown keys, plaintext passwords); default: warn */
  configWarning?: (message: string) => void;
  /** inventory warnings are shown only when the inventory was named, unless verbose */
  verbose?: () => boolean;
}

export interface OwnedContext extends AppContext {
  close(): Promise<void>;
  /**
   * Reads config and inventory afresh (SIGHUP). The old ones stay when either is invalid; per-config values are
   * closed and rebuilt on next use. The database stays: a changed `db` setting is reported, not followed.
   */
  reload(): Promise<{ cfg: LabopsConfig; index: HostIndex; dbChanged: boolean }>;
}

/** The config as the flags, environment and config file give it; its warnings go out once, here. */
async function readConfig(init: ContextInit): Promise<LabopsConfig> {
  const { loadConfig } = await import('../core/config/load.js');
  const l = init.locations();
  const password = l.dbPasswordFile === undefined ? undefined : `file:${l.dbPasswordFile}`;
  const cfg = loadConfig({ flags: { hosts: l.hosts, db: l.db, 'db-password': password }, configPath: l.config, env: init.env });
  for (const w of cfg.warnings) (init.configWarning ?? init.warn)(w);
  return cfg;
}

/** The inventory (with the ops-worker's dynamic catalog over it); warnings only for a named one, unless verbose. */
async function readInventory(init: ContextInit, cfg: LabopsConfig): Promise<HostIndex> {
  const [{ HostIndex }, { loadCatalog }] = await Promise.all([import('../core/config/inventory.js'), import('../core/config/catalog.js')]);
  const setting = cfg.setting('hosts');
  const inv = loadCatalog(cfg.value('hosts'), setting.source.kind !== 'default', cfg.value('dynamic-hosts'));
  for (const w of inv.warnings) if (inv.file || init.verbose?.()) (init.configWarning ?? init.warn)(w);
  return new HostIndex(inv);
}

export function createContext(init: ContextInit): OwnedContext {
  const closers: (() => Promise<void> | void)[] = [];
  let config: Promise<LabopsConfig> | undefined;
  let inventory: Promise<HostIndex> | undefined;
  let database: Promise<Database> | undefined;
  const cached = new Map<string, { cfg: LabopsConfig; value: Promise<unknown>; close?: (v: never) => Promise<void> | void }>();
  const loadConfigNow = () => readConfig(init);
  const loadInventoryNow = (cfg: LabopsConfig) => readInventory(init, cfg);
  const closeValue = (entry: { value: Promise<unknown>; close?: (v: never) => Promise<void> | void }) =>
    entry.close ? entry.value.then((v) => entry.close!(v as never), () => {}) : Promise.resolve();

  const stop = init.stop ? AbortSignal.any([init.signal, init.stop]) : init.signal;
  const ctx: OwnedContext = {
    env: init.env,
    clock: init.clock,
    signal: init.signal,
    stop,
    config() {
      config ??= loadConfigNow();
      return config;
    },
    inventory() {
      inventory ??= ctx.config().then(loadInventoryNow);
      return inventory;
    },
    database(request = {}) {
      database ??= (async () => {
        const cfg = await ctx.config();
        const [{ openStore }, { dbPassword }] = await Promise.all([import('../core/db/database.js'), import('../core/config/secrets.js')]);
        const setting = cfg.setting('db');
        const db = await openStore(cfg.value('db'), { ...request, signal: init.signal, embedded: setting.source.kind === 'default', password: dbPassword(cfg, init.env) });
        closers.push(() => db.close());
        return db;
      })();
      return database;
    },
    async perConfig<T>(key: string, build: (cfg: LabopsConfig) => Promise<T> | T, close?: (value: T) => Promise<void> | void): Promise<T> {
      const cfg = await ctx.config();
      const hit = cached.get(key);
      if (hit?.cfg === cfg) return hit.value as Promise<T>;
      if (hit) void closeValue(hit);
      const value = Promise.resolve().then(() => build(cfg));
      cached.set(key, { cfg, value, close: close as ((v: never) => Promise<void> | void) | undefined });
      return value;
    },
    warn: init.warn,
    onClose(fn) {
      closers.push(fn);
    },
    async reload() {
      const cfg = await loadConfigNow();
      const index = await loadInventoryNow(cfg);
      const old = config ? await config.catch(() => undefined) : undefined;
      config = Promise.resolve(cfg);
      inventory = Promise.resolve(index);
      return { cfg, index, dbChanged: old !== undefined && (old.get('db') !== cfg.get('db') || old.get('db-password') !== cfg.get('db-password')) };
    },
    async close() {
      for (const entry of cached.values()) await closeValue(entry);
      cached.clear();
      for (const c of closers.reverse()) await c();
      closers.length = 0;
    },
  };
  return ctx;
}
