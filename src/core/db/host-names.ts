// Host names are case-insensitive everywhere (hosts.json lookups ignore case), in every table keyed by one.
// MySQL's default collations (and the utf8mb4_unicode_ci labops creates tables with) already compare them
// without case and use the index; SQLite's columns compare bytes, so there the comparison says NOCASE.
import { sql, type Expression, type SqlBool } from 'kysely';
import type { Dialect } from './table.js';

/** The key two spellings of one host name share. */
export const hostKey = (name: string): string => name.toLowerCase();

/** `column IN (names)`, without regard to case. `names` must not be empty. */
export function hostNameIn(dialect: Dialect, column: string, names: readonly string[]): Expression<SqlBool> {
  const list = sql.join([...names]);
  return dialect === 'mysql' ? sql<SqlBool>`${sql.ref(column)} in (${list})` : sql<SqlBool>`${sql.ref(column)} collate nocase in (${list})`;
}
