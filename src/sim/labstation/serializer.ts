// LS_ToJson, the Lab Station's own JSON writer, quirks included (reference NOTES §3.2 and §3.9).
// Written here because the point is to reproduce its mistakes, which no JSON library does.
//
// '3.2.0' (Lab Station 3.2.0, 3816f8f and later):
//   - keys in sorted (ordinal) order, as AHK Maps enumerate them
//   - the integers 0 and 1 come out as false and true (AHK booleans are those integers)
//   - an empty object comes out as [] (it passes the array test)
//   - strings escape only \\ \" \b \f \n \r \t; other control characters and non-ASCII pass raw; "/" is not escaped
//   - the string "null" is written as null
// 'nov-2025' (Lab Station 3.0.0 + 2693de3, before 3816f8f): not valid JSON
//   - single backslashes are left unescaped (only "\\" pairs were doubled), raw newlines and control characters
//   - non-empty arrays are written as objects {"1":…,"2":…}
//   - the strings "1" and "0" become true and false

export type JsonDialect = '3.2.0' | 'nov-2025';

export function toStationJson(value: unknown, dialect: JsonDialect = '3.2.0'): string {
  const parts: string[] = [];
  write(value, dialect, parts);
  return parts.join('');
}

function write(v: unknown, dialect: JsonDialect, out: string[]): void {
  if (v === null || v === undefined) {
    out.push('null');
  } else if (typeof v === 'boolean') {
    out.push(v ? 'true' : 'false');
  } else if (typeof v === 'number') {
    if (Number.isInteger(v) && (v === 0 || v === 1)) out.push(v === 1 ? 'true' : 'false');
    else if (!Number.isFinite(v)) out.push('""');
    else out.push(String(v));
  } else if (typeof v === 'string') {
    if (v === 'null') out.push('null');
    else if (dialect === 'nov-2025' && (v === '1' || v === '0')) out.push(v === '1' ? 'true' : 'false');
    else out.push(quote(v, dialect));
  } else if (Array.isArray(v)) {
    if (v.length === 0) out.push('[]');
    else if (dialect === 'nov-2025') {
      out.push('{');
      v.forEach((item, i) => {
        if (i > 0) out.push(',');
        out.push(`"${i + 1}":`);
        write(item, dialect, out);
      });
      out.push('}');
    } else {
      out.push('[');
      v.forEach((item, i) => {
        if (i > 0) out.push(',');
        write(item, dialect, out);
      });
      out.push(']');
    }
  } else if (typeof v === 'object') {
    const keys = Object.keys(v as object)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort(ordinal);
    if (keys.length === 0) {
      out.push('[]');
      return;
    }
    out.push('{');
    keys.forEach((k, i) => {
      if (i > 0) out.push(',');
      out.push(quote(k, dialect), ':');
      write((v as Record<string, unknown>)[k], dialect, out);
    });
    out.push('}');
  } else {
    out.push(quote(String(v), dialect));
  }
}

function ordinal(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', '"': '\\"', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function quote(s: string, dialect: JsonDialect): string {
  if (dialect === 'nov-2025') return `"${s.replaceAll('\\\\', '\\\\\\\\').replaceAll('"', '\\"')}"`;
  return `"${s.replace(/[\\"\b\f\n\r\t]/g, (c) => ESCAPES[c]!)}"`;
}
