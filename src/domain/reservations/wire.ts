// JSON exactly as the ops-worker writes it: Flask jsonify for HTTP bodies (compact, sorted keys, ensure_ascii,
// trailing newline) and Python json.dumps for the journal payload column. Python prints a float 10.0 as
// `10.0` while JavaScript has only numbers, so the fields upstream computes as floats are named here.

/** Keys whose values are Python floats in the ops-worker (wake `waitSeconds` = float(ping_timeout)). */
export const FLOAT_KEYS: ReadonlySet<string> = new Set(['waitSeconds']);

function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += s[i];
  }
  return `${out}"`;
}

function pyNumber(n: number, float: boolean): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
  if (float && Number.isInteger(n)) return `${n}.0`;
  return String(n);
}

interface DumpOptions {
  sortKeys: boolean;
  itemSep: string;
  keySep: string;
}

function dump(v: unknown, o: DumpOptions, float = false): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return pyNumber(v, float);
  if (typeof v === 'string') return pyString(v);
  if (Array.isArray(v)) return `[${v.map((x) => dump(x, o)).join(o.itemSep)}]`;
  if (typeof v === 'object') {
    let entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    if (o.sortKeys) entries = entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${pyString(k)}${o.keySep}${dump(x, o, FLOAT_KEYS.has(k))}`).join(o.itemSep)}}`;
  }
  return 'null';
}

/** Flask `jsonify(obj)`: what the ops-worker's HTTP API sends. */
export function flaskJsonify(v: unknown): string {
  return `${dump(v, { sortKeys: true, itemSep: ',', keySep: ':' })}\n`;
}

/** Python `json.dumps(obj)`: what the ops-worker stores in `reservation_operations.payload`. */
export function pythonDumps(v: unknown): string {
  return dump(v, { sortKeys: false, itemSep: ', ', keySep: ': ' });
}
