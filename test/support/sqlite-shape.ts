// What a SQLite table does, independent of how its CREATE TABLE was spelled: per column the type affinity
// (https://sqlite.org/datatype3.html §3.1), NOT NULL, default, key position and rowid aliasing; its
// indexes, foreign keys, CHECK clauses and triggers. Two tables with equal shapes accept, store and reject
// the same rows. Default NULL and no default are the same thing; so are VARCHAR(512) and TEXT.
import type BetterSqlite3 from 'better-sqlite3';

type Handle = BetterSqlite3.Database;

export function affinity(declared: string): string {
  const t = declared.toUpperCase();
  if (t.includes('INT')) return 'INTEGER';
  if (/CHAR|CLOB|TEXT/.test(t)) return 'TEXT';
  if (t === '' || t.includes('BLOB')) return 'BLOB';
  if (/REAL|FLOA|DOUB/.test(t)) return 'REAL';
  return 'NUMERIC';
}

/** The parenthesised argument of every CHECK in a CREATE statement, with no space around commas and parentheses. */
export function checkClauses(createSql: string): string[] {
  const out: string[] = [];
  const re = /\bCHECK\s*\(/gi;
  for (let m = re.exec(createSql); m; m = re.exec(createSql)) {
    let depth = 1;
    let i = re.lastIndex;
    for (; i < createSql.length && depth > 0; i++) depth += createSql[i] === '(' ? 1 : createSql[i] === ')' ? -1 : 0;
    out.push(createSql.slice(re.lastIndex, i - 1).replace(/\s+/g, ' ').replace(/ ?([(),]) ?/g, '$1').trim());
  }
  return out.sort();
}

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

export function tableShape(db: Handle, table: string) {
  const master = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) as { sql: string } | undefined;
  if (!master) return undefined;
  const columns = (db.pragma(`table_xinfo(${table})`) as { name: string; type: string; notnull: number; dflt_value: string | null; pk: number }[]).map((c) => ({
    name: c.name,
    affinity: affinity(c.type),
    rowidAlias: c.pk === 1 && c.type.toUpperCase() === 'INTEGER',
    notnull: c.notnull,
    default: c.dflt_value === null || c.dflt_value.toUpperCase() === 'NULL' ? null : c.dflt_value,
    pk: c.pk,
  }));
  const indexes = (db.pragma(`index_list(${table})`) as { name: string; unique: number; origin: string; partial: number }[])
    .map((i) => ({ ...i, columns: (db.pragma(`index_info(${i.name})`) as { name: string }[]).map((c) => c.name) }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const foreignKeys = db.pragma(`foreign_key_list(${table})`);
  const triggers = (db.prepare("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? ORDER BY name").all(table) as { sql: string }[]).map((t) => squash(t.sql));
  return { columns, autoincrement: /\bAUTOINCREMENT\b/i.test(master.sql), indexes, foreignKeys, checks: checkClauses(master.sql), triggers };
}

export function tableNames(db: Handle): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
}
