// DATETIME columns hold UTC as 'YYYY-MM-DD HH:MM:SS' (the upstream columns have no fractional seconds).
import { utcIsoFast } from '../../domain/utc-iso.js';

export function toDbDateTime(v: string | number | Date): string {
  // Canonical UTC strings (what toUtcIso and toISOString give) need no Date round trip.
  const iso = typeof v === 'string' ? utcIsoFast(v) : undefined;
  if (iso !== undefined) return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
  const d = v instanceof Date ? v : new Date(v);
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

const DB_DATETIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]) ([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/;

/** A DATETIME value read back (string or Date) as ISO-8601 UTC. */
export function fromDbDateTime(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  const s = String(v);
  // what the columns hold, without a Date round trip (a listing of 10 000 hosts converts 60 000 of them)
  if (DB_DATETIME.test(s)) return `${s.slice(0, 10)}T${s.slice(11, 19)}.000Z`;
  const iso = /[zZ]|[+-]\d{2}:?\d{2}$/.test(s) ? s : `${s.replace(' ', 'T')}Z`;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
