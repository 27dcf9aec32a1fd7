// What shell completion knows about the lab: inventory hosts, configured CML servers, cached labs and
// reservations. Read-only and best-effort: a missing inventory or store is an empty list, never an error, never
// a file created (completion runs at every TAB).
import type { AppContext } from './context.js';
import { cmlServers } from './labs.js';

export interface Named {
  value: string;
  description?: string;
}

async function quietly(fn: () => Promise<Named[]>): Promise<Named[]> {
  try {
    return await fn();
  } catch {
    return [];
  }
}

export function completionHosts(ctx: AppContext): Promise<Named[]> {
  return quietly(async () => (await ctx.inventory()).hosts.map((h) => ({ value: h.name, description: h.address })));
}

export function completionCmlServers(ctx: AppContext): Promise<Named[]> {
  return quietly(async () => (await cmlServers(ctx)).map((s) => ({ value: s.id, description: s.name })));
}

export function completionLabs(ctx: AppContext): Promise<Named[]> {
  return quietly(async () => {
    const db = await ctx.database({ create: false });
    const rows = await db.kysely.selectFrom('cml_lab_records').select(['lab_id', 'title', 'server_id']).where('orphaned_at', 'is', null).orderBy('title').limit(500).execute();
    return rows.map((r) => ({ value: r.lab_id, description: `${r.title} (${r.server_id})` }));
  });
}

/** Recent reservations: the journal's and lab_reservations' newest ids. */
export function completionReservations(ctx: AppContext): Promise<Named[]> {
  return quietly(async () => {
    const db = await ctx.database({ create: false });
    const journal = await db.kysely.selectFrom('reservation_operations').select('reservation_id').groupBy('reservation_id').orderBy((eb) => eb.fn.max('id'), 'desc').limit(200).execute();
    const booked = await db.kysely
      .selectFrom('lab_reservations')
      .select(['transaction_hash', 'lab_id', 'status'])
      .orderBy('start_time', 'desc')
      .limit(200)
      .execute()
      .catch(() => []);
    const byId = new Map<string, Named>();
    for (const b of booked) if (!byId.has(b.transaction_hash)) byId.set(b.transaction_hash, { value: b.transaction_hash, description: `lab ${b.lab_id ?? '-'} ${b.status ?? ''}`.trim() });
    for (const j of journal) if (!byId.has(j.reservation_id)) byId.set(j.reservation_id, { value: j.reservation_id });
    return [...byId.values()];
  });
}
