// CML timestamps as controllers really send them: `Z`, `+00:00`, `+0000`, or no offset at all (UTC, per
// the Cloud Manager CHANGELOG), with or without fractional seconds. Hand-written because Date.parse reads
// an offset-less ISO string as local time.
import { utcIsoFast } from '../utc-iso.js';

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

export type ParsedTimestamp = { ok: true; value: string | null } | { ok: false };

/**
 * Parses a CML `created`/`modified` value into a canonical UTC ISO string (millisecond precision).
 * null, undefined and '' mean "no timestamp"; anything else that is not a date-time is rejected.
 */
export function parseCmlTimestamp(input: unknown): ParsedTimestamp {
  if (input === null || input === undefined || input === '') return { ok: true, value: null };
  if (typeof input !== 'string') return { ok: false };
  const fast = utcIsoFast(input);
  if (fast !== undefined) return { ok: true, value: fast };
  const m = ISO.exec(input.trim());
  if (!m) return { ok: false };
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', off] = m;
  const ms = Number((frac + '000').slice(0, 3));
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  const check = new Date(t);
  // Date.UTC rolls 2025-02-30 over into March; a real timestamp never needs that.
  if (check.getUTCFullYear() !== Number(y) || check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d)) return { ok: false };
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) return { ok: false };
  if (off && off.toUpperCase() !== 'Z') {
    const sign = off[0] === '-' ? -1 : 1;
    const digits = off.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2, 4) || '0');
    if (oh > 23 || om > 59) return { ok: false };
    t -= sign * (oh * 60 + om) * 60_000;
  }
  return { ok: true, value: new Date(t).toISOString() };
}

/** Python's `datetime.isoformat()` of an aware UTC datetime, the format Cloud Manager documents carry. */
export function pythonIso(iso: string | null): string | null {
  if (iso === null) return null;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return null;
  const base = d.toISOString().slice(0, 19);
  const ms = d.getUTCMilliseconds();
  return ms ? `${base}.${String(ms).padStart(3, '0')}000+00:00` : `${base}+00:00`;
}

/** `YYYY-MM-DD HH:MM:SS.mmm`, the UTC form stored in DATETIME(3) / TEXT columns. */
export function toSqlTime(iso: string): string {
  return iso.replace('T', ' ').replace('Z', '');
}

const SQL_TIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/;

/** Reads a stored time back into canonical ISO (both dialects; MySQL returns strings with dateStrings). */
export function fromSqlTime(v: string | Date | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  // What toSqlTime wrote: only the separator and the zone differ from canonical ISO.
  if (SQL_TIME.test(v)) return `${v.slice(0, 10)}T${v.slice(11)}Z`;
  const p = parseCmlTimestamp(v);
  return p.ok ? p.value : null;
}
