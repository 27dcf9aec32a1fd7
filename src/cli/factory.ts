// Lazy dependency wiring. Nothing heavy is imported here: every client is built on first use, so
// `labops --help` and `labops dhcp-patch` never load zod, the database drivers or the WinRM stack.
import type { IOStreams } from './io/iostreams.js';
import type { Clock } from '../core/clock.js';
import type { LabopsConfig } from '../core/config/load.js';
import type { HostIndex } from '../core/config/inventory.js';
import type { Database } from '../core/db/database.js';

export interface GlobalOptions {
  config?: string;
  hosts?: string;
  db?: string;
  json?: boolean;
  color?: boolean;
  input?: boolean;
  yes?: boolean;
  verbose?: boolean;
  quiet?: boolean;
}

export interface Factory {
  readonly io: IOStreams;
  readonly env: NodeJS.ProcessEnv;
  readonly clock: Clock;
  /** aborted on the first SIGINT; every op receives it */
  readonly signal: AbortSignal;
  /** the command line as given (after the program name); `exec` finds its `--` here */
  readonly rawArgs: readonly string[];
  globals(): GlobalOptions;
  config(): Promise<LabopsConfig>;
  inventory(): Promise<HostIndex>;
  /**
   * Opened once per run and closed by main (the first call's options win). The embedded default store is
   * created and migrated on first use; `create: false` (commands that only read) never creates a file.
   */
  database(opts?: { create?: boolean; upgrade?: boolean }): Promise<Database>;
  /** Asks for confirmation on a TTY; without one, --yes is required (a usage error otherwise). */
  confirm(question: string): Promise<boolean>;
  /** resources to release when the run ends */
  onClose(fn: () => Promise<void> | void): void;
}

export interface FactoryInit {
  io: IOStreams;
  env: NodeJS.ProcessEnv;
  clock: Clock;
  signal: AbortSignal;
  rawArgs?: readonly string[];
  globals: () => GlobalOptions;
}

export function createFactory(init: FactoryInit): Factory & { close(): Promise<void> } {
  const closers: (() => Promise<void> | void)[] = [];
  let config: Promise<LabopsConfig> | undefined;
  let inventory: Promise<HostIndex> | undefined;
  let database: Promise<Database> | undefined;

  const f: Factory & { close(): Promise<void> } = {
    io: init.io,
    env: init.env,
    clock: init.clock,
    signal: init.signal,
    rawArgs: init.rawArgs ?? [],
    globals: init.globals,
    config() {
      config ??= (async () => {
        const { loadConfig } = await import('../core/config/load.js');
        const g = init.globals();
        return loadConfig({ flags: { hosts: g.hosts, db: g.db }, configPath: g.config, env: init.env });
      })();
      return config;
    },
    inventory() {
      inventory ??= (async () => {
        const cfg = await f.config();
        const { loadInventory, HostIndex } = await import('../core/config/inventory.js');
        const setting = cfg.setting('hosts');
        const inv = loadInventory(setting.value!, setting.source.kind !== 'default');
        for (const w of inv.warnings) if (inv.file || init.globals().verbose) init.io.warn(w);
        return new HostIndex(inv);
      })();
      return inventory;
    },
    database(opts = {}) {
      database ??= (async () => {
        const cfg = await f.config();
        const { openStore } = await import('../core/db/database.js');
        const setting = cfg.setting('db');
        const db = await openStore(setting.value!, { ...opts, signal: init.signal, embedded: setting.source.kind === 'default' });
        closers.push(() => db.close());
        return db;
      })();
      return database;
    },
    async confirm(question) {
      if (init.globals().yes) return true;
      if (!init.io.canPrompt()) {
        const { UsageError } = await import('../domain/errors.js');
        throw new UsageError(`${question}: --yes required when not running interactively`);
      }
      const { confirm } = await import('@inquirer/prompts');
      return confirm({ message: question, default: false }, { input: init.io.stdin, output: init.io.stdout });
    },
    onClose(fn) {
      closers.push(fn);
    },
    async close() {
      for (const c of closers.reverse()) await c();
    },
  };
  return f;
}
