// Database URLs: sqlite:<path>, sqlite::memory:, mysql://…, mariadb://…, and the seed's mysql+pymysql://.
import { UsageError } from '../../domain/errors.js';

export type DbTarget =
  | { dialect: 'sqlite'; path: string }
  | { dialect: 'mysql'; host: string; port: number; user: string; password: string; database: string; params: URLSearchParams };

export function parseDbUrl(url: string): DbTarget {
  const u = url.trim();
  if (u.startsWith('sqlite:')) {
    let path = u.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2); // sqlite:///abs/path
    if (!path) throw new UsageError(`database URL '${u}': no SQLite path`);
    return { dialect: 'sqlite', path };
  }
  const m = /^(mysql|mariadb)(\+[a-z0-9]+)?:\/\//i.exec(u);
  if (m) {
    let parsed: URL;
    try {
      parsed = new URL(`mysql://${u.slice(m[0].length)}`);
    } catch {
      throw new UsageError(`database URL ${redactDbUrl(u)} is not a valid URL`);
    }
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    if (!database) throw new UsageError(`database URL ${redactDbUrl(u)} names no database (mysql://user:pass@host:3306/<db>)`);
    return {
      dialect: 'mysql',
      host: parsed.hostname || 'localhost',
      port: parsed.port ? Number(parsed.port) : 3306,
      user: decodeURIComponent(parsed.username),
      password: decodeURIComponent(parsed.password),
      database,
      params: parsed.searchParams,
    };
  }
  if (u.startsWith('/') || u.startsWith('./')) return { dialect: 'sqlite', path: u };
  throw new UsageError(`database URL '${redactDbUrl(u)}': expected sqlite:<path> or mysql://user:pass@host:port/db`);
}

/** The URL with its password replaced, for messages and `config show`. */
export function redactDbUrl(url: string): string {
  return url.replace(/^([a-z0-9+]+:\/\/[^:/@]*):[^@]*@/i, '$1:***@');
}
