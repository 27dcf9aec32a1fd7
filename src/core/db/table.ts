// A table declared once: per column its SQL type, nullability, default and how labops uses it; the keys;
// who owns the table. From that one declaration come the MySQL and the SQLite CREATE statements
// (createStatements), the columns `db status` checks (neededColumns) and the Kysely row type (RowOf).
// Kysely's schema builder is not used: it maps neither types (ENUM, MEDIUMTEXT) nor key styles between the
// dialects, and that mapping is the whole job here.
import type { ColumnType } from 'kysely';

export type Dialect = 'sqlite' | 'mysql';

/**
 * Table options appended to every CREATE TABLE labops runs on MySQL (ENGINE, DEFAULT CHARSET, COLLATE), unless
 * the table sets its own `mysqlOptions`. Upstream's DDL leaves the character set to the server, so on a latin1
 * server an emoji in a username or lab title fails the insert; labops' tables declare utf8mb4, with a
 * case-insensitive collation as the server default's is (host names compare case-insensitively, README).
 */
export const MYSQL_TABLE_OPTIONS = 'DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci';

/**
 * How labops uses a column. `needed`: `db status` names it when an existing table lacks it. `optional`: read
 * when present (another system's column that older installations may not have). `unread`: only there to give
 * a table its owner's shape; not in the row type.
 */
export type ColumnUse = 'needed' | 'optional' | 'unread';

export interface ColumnSql {
  /** as MySQL spells it */
  readonly type: string;
  /** as SQLite gets it: the same affinity, without MySQL-only spellings */
  readonly sqliteType: string;
  readonly nullable: boolean;
  /** SQL text after DEFAULT */
  readonly default?: string;
  /** AUTO_INCREMENT PRIMARY KEY (SQLite: INTEGER PRIMARY KEY AUTOINCREMENT) */
  readonly serial: boolean;
  /** the table's primary key on its own */
  readonly primaryKey: boolean;
  /** MySQL ON UPDATE CURRENT_TIMESTAMP; SQLite has none, a trigger stands in on labops' own tables */
  readonly onUpdateNow: boolean;
  /** an ENUM's values, which SQLite checks with CHECK (col IN (…)) unless `unchecked` */
  readonly values?: readonly string[];
  readonly use: ColumnUse;
}

/**
 * One column. The type parameters are the row type's: T the value read, W what a write accepts beside T,
 * N nullable, D has a default (so an INSERT may leave it out), U how labops uses it.
 */
export class Column<T, W = T, N extends boolean = true, D extends boolean = false, U extends ColumnUse = 'needed'> {
  /** type-level only: never set */
  declare readonly types: { value: T; write: W; nullable: N; defaulted: D; use: U };

  constructor(readonly sql: ColumnSql) {}

  private with<C>(patch: Partial<ColumnSql>): C {
    return new Column({ ...this.sql, ...patch }) as C;
  }

  notNull(): Column<T, W, false, D, U> {
    return this.with({ nullable: false });
  }

  /** a literal default: strings are quoted, booleans spelled TRUE/FALSE */
  default(value: T | W): Column<T, W, N, true, U> {
    const sql = typeof value === 'string' ? quote(value) : typeof value === 'boolean' ? String(value).toUpperCase() : String(value);
    return this.with({ default: sql });
  }

  defaultNow(): Column<T, W, N, true, U> {
    return this.with({ default: 'CURRENT_TIMESTAMP' });
  }

  onUpdateNow(): Column<T, W, N, D, U> {
    return this.with({ onUpdateNow: true });
  }

  primaryKey(): Column<T, W, false, D, U> {
    return this.with({ primaryKey: true, nullable: false });
  }

  optional(): Column<T, W, N, D, 'optional'> {
    return this.with({ use: 'optional' });
  }

  unread(): Column<T, W, N, D, 'unread'> {
    return this.with({ use: 'unread' });
  }

  /** SQLite: no CHECK on the ENUM's values */
  unchecked(): Column<T, W, N, D, U> {
    return this.with({ values: undefined });
  }
}

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

function column<T, W = T>(type: string, sqliteType = type): Column<T, W> {
  return new Column({ type, sqliteType, nullable: true, serial: false, primaryKey: false, onUpdateNow: false, use: 'needed' });
}

/** An AUTO_INCREMENT primary key. */
export const serial = (type: 'INT' | 'BIGINT' = 'BIGINT') =>
  new Column<number, number, false, true>({ type, sqliteType: 'INTEGER', nullable: false, serial: true, primaryKey: true, onUpdateNow: false, use: 'needed' });
export const int = () => column<number>('INT');
export const bigint = () => column<number>('BIGINT', 'INTEGER');
export const float = () => column<number>('FLOAT');
/** TINYINT(1), read as 0/1; a write may pass a boolean */
export const flag = () => column<number, boolean>('TINYINT(1)');
export const boolean = () => column<number, boolean>('BOOLEAN');
export const char = (length: number) => column<string>(`CHAR(${length})`);
export const varchar = (length: number) => column<string>(`VARCHAR(${length})`);
export const text = () => column<string>('TEXT');
export const mediumtext = () => column<string>('MEDIUMTEXT', 'TEXT');
export const longtext = () => column<string>('LONGTEXT', 'TEXT');
/** read as 'YYYY-MM-DD hh:mm:ss[.fff]' (SQLite stores the text, mysql2 runs with dateStrings) */
export const datetime = (fractionDigits?: number) => column<string>(fractionDigits ? `DATETIME(${fractionDigits})` : 'DATETIME', 'DATETIME');
export const timestamp = () => column<string>('TIMESTAMP');
export const json = () => column<unknown>('JSON');
export function enumOf<const V extends string>(...values: V[]): Column<V> {
  return new Column({ ...column<V>(`ENUM(${values.map(quote).join(',')})`, 'TEXT').sql, values });
}

type AnyColumn = Column<unknown, unknown, boolean, boolean, ColumnUse>;
type Columns = Record<string, AnyColumn>;

export interface Key<K extends string> {
  name: string;
  columns: readonly K[];
}

export interface Index<K extends string> extends Key<K> {
  /** only in this dialect: upstream's MySQL keys are kept as they are; SQLite index names are database-wide */
  only?: Dialect;
}

export interface ForeignKey<K extends string> extends Key<K> {
  references: { table: string; columns: readonly string[] };
  onDelete: 'CASCADE';
}

interface TableOptions {
  /** owned by another system: created only on SQLite (embedded default) and in tests */
  foreign?: boolean;
  /** the system that owns it, when `foreign` */
  owner?: string;
  /** MySQL table options instead of MYSQL_TABLE_OPTIONS */
  mysqlOptions?: string;
}

/** What `table()` takes: keys name only declared columns. */
export interface TableSpec<C extends Columns> extends TableOptions {
  columns: C;
  /** a primary key of several columns (one column says `.primaryKey()` or is a `serial()`) */
  primaryKey?: readonly (keyof C & string)[];
  unique?: readonly Key<keyof C & string>[];
  indexes?: readonly Index<keyof C & string>[];
  foreignKeys?: readonly ForeignKey<keyof C & string>[];
}

export interface Table<N extends string = string, C extends Columns = Columns> extends TableOptions {
  readonly name: N;
  readonly columns: C;
  readonly primaryKey?: readonly string[];
  readonly unique?: readonly Key<string>[];
  readonly indexes?: readonly Index<string>[];
  readonly foreignKeys?: readonly ForeignKey<string>[];
}

export function table<const N extends string, C extends Columns>(name: N, spec: TableSpec<C>): Table<N, C> {
  return { name, ...spec };
}

export interface Migration {
  id: string;
  description: string;
  tables: readonly Table[];
}

const entries = (t: Table) => Object.entries(t.columns).map(([name, c]) => [name, c.sql] as const);

/** The columns labops needs, in table order: `db status` names those an existing table lacks. */
export function neededColumns(t: Table): string[] {
  return entries(t).filter(([, c]) => c.use === 'needed').map(([name]) => name);
}

/** The columns in the row type, in table order. */
export function rowColumns(t: Table): string[] {
  return entries(t).filter(([, c]) => c.use !== 'unread').map(([name]) => name);
}

function columnDdl(name: string, c: ColumnSql, dialect: Dialect): string {
  if (c.serial) return dialect === 'mysql' ? `${name} ${c.type} AUTO_INCREMENT PRIMARY KEY` : `${name} INTEGER PRIMARY KEY AUTOINCREMENT`;
  const parts = [name, dialect === 'mysql' ? c.type : c.sqliteType, c.nullable ? 'NULL' : 'NOT NULL'];
  if (c.default !== undefined) parts.push(`DEFAULT ${c.default}`);
  if (c.onUpdateNow && dialect === 'mysql') parts.push('ON UPDATE CURRENT_TIMESTAMP');
  if (c.primaryKey) parts.push('PRIMARY KEY');
  if (c.values && dialect === 'sqlite') parts.push(`CHECK (${name} IN (${c.values.map(quote).join(',')}))`);
  return parts.join(' ');
}

const list = (columns: readonly string[]) => `(${columns.join(', ')})`;

/** SQLite has no ON UPDATE: on labops' own tables a trigger sets the column when an UPDATE left it as it was. */
function onUpdateTriggers(t: Table): string[] {
  if (t.foreign) return [];
  const key = entries(t).find(([, c]) => c.primaryKey)?.[0];
  return entries(t)
    .filter(([, c]) => c.onUpdateNow)
    .map(([name]) => {
      if (!key) throw new Error(`${t.name}.${name}: ON UPDATE needs a one-column primary key on SQLite`);
      return `CREATE TRIGGER IF NOT EXISTS trg_${t.name}_${name} AFTER UPDATE ON ${t.name}
  FOR EACH ROW WHEN NEW.${name} = OLD.${name}
  BEGIN UPDATE ${t.name} SET ${name} = CURRENT_TIMESTAMP WHERE ${key} = NEW.${key}; END`;
    });
}

/** The statements that create the table, its indexes and triggers, each with IF NOT EXISTS. */
export function createStatements(t: Table, dialect: Dialect): string[] {
  const lines = entries(t).map(([name, c]) => columnDdl(name, c, dialect));
  if (t.primaryKey) lines.push(`PRIMARY KEY ${list(t.primaryKey)}`);
  for (const u of t.unique ?? []) lines.push(dialect === 'mysql' ? `UNIQUE KEY ${u.name} ${list(u.columns)}` : `CONSTRAINT ${u.name} UNIQUE ${list(u.columns)}`);
  const indexes = (t.indexes ?? []).filter((i) => (i.only ?? dialect) === dialect);
  if (dialect === 'mysql') for (const i of indexes) lines.push(`KEY ${i.name} ${list(i.columns)}`);
  for (const f of t.foreignKeys ?? []) lines.push(`CONSTRAINT ${f.name} FOREIGN KEY ${list(f.columns)} REFERENCES ${f.references.table} ${list(f.references.columns)} ON DELETE ${f.onDelete}`);
  const options = dialect === 'mysql' ? (t.mysqlOptions ?? MYSQL_TABLE_OPTIONS) : '';
  const create = `CREATE TABLE IF NOT EXISTS ${t.name} (\n  ${lines.join(',\n  ')}\n)${options ? ` ${options}` : ''}`;
  if (dialect === 'mysql') return [create];
  return [create, ...indexes.map((i) => `CREATE INDEX IF NOT EXISTS ${i.name} ON ${t.name} ${list(i.columns)}`), ...onUpdateTriggers(t)];
}

type OrNull<N, X> = N extends true ? X | null : X;

/** A column's Kysely type: what a SELECT reads, what an INSERT takes (optional when defaulted or nullable), what an UPDATE takes. */
export type KyselyColumn<C> =
  C extends Column<infer T, infer W, infer N, infer D, ColumnUse> ? ColumnType<OrNull<N, T>, OrNull<N, T | W> | (D extends true ? undefined : never), OrNull<N, T | W>> : never;

/** The Kysely row type of a table: every column but the `unread` ones. */
export type RowOf<T extends Table> = {
  [K in keyof T['columns'] as T['columns'][K] extends Column<unknown, unknown, boolean, boolean, 'unread'> ? never : K]: KyselyColumn<T['columns'][K]>;
};

/** Kysely's database type for a list of tables: name → row type. */
export type RowsOf<Ts extends readonly Table[]> = { [T in Ts[number] as T['name']]: RowOf<T> };
