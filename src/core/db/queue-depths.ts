// Waiting work for the daemon's /metrics: sessions to provision, reservations to start. A table another
// system owns may be absent; its counts are then left out.
import { sql } from 'kysely';
import type { Database } from './database.js';

export async function queueDepths(db: Database): Promise<Record<string, number>> {
  const q: Record<string, number> = {};
  try {
    const rows = await db.kysely.selectFrom('lab_sessions').select(['status', sql<number>`COUNT(*)`.as('n')]).where('status', 'in', ['REQUESTED', 'PROVISIONING']).groupBy('status').execute();
    q.lab_sessions_requested = 0;
    q.lab_sessions_provisioning = 0;
    for (const r of rows) q[`lab_sessions_${String(r.status).toLowerCase()}`] = Number(r.n);
  } catch {
    // the collector tables are absent on this database
  }
  try {
    const r = await db.kysely.selectFrom('lab_reservations').select(sql<number>`COUNT(*)`.as('n')).where('status', '=', 'CONFIRMED').executeTakeFirst();
    q.reservations_confirmed = Number(r?.n ?? 0);
  } catch {
    // no lab_reservations table
  }
  return q;
}
