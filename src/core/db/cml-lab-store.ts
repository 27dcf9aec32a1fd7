// SQL storage of the CML lab cache. A server's records are read in one query and each sync's changes
// are written in a handful of batched statements inside one transaction, so a re-sync where nothing
// changed costs one SELECT and one UPDATE per server, not a round trip per lab.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { CmlLabRecordsTable, DB } from './schema.js';
import type { Dialect } from './migrations.js';
import { historyCutoff, type HistoryEntry, type LabRecord } from '../../domain/labs/record.js';
import { fromSqlTime, toSqlTime } from '../../domain/labs/timestamps.js';
import { withTxRetry } from './retry.js';
import { rowColumns } from './table.js';
import { CML_LAB_RECORDS } from './tables-cml.js';

/** Rows per multi-row INSERT; keeps SQLite under its bound-parameter limit (21 columns × 200). */
const INSERT_CHUNK = 200;
/** Ids per IN (…) list. */
const IN_CHUNK = 500;

export interface LabChanges {
  /** created and changed records, written with one upsert per chunk */
  upserts: LabRecord[];
  /** new history entries (labId + entry) */
  history: { labId: string; entry: HistoryEntry }[];
  /** unchanged labs whose last_synced_at moves to `syncedAt` */
  touched: string[];
  syncedAt: string;
  /** labs to mark orphaned at `syncedAt` */
  orphaned: string[];
}

type Row = { [K in keyof CmlLabRecordsTable]: unknown };

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function toRow(r: LabRecord) {
  return {
    server_id: r.serverId,
    lab_id: r.labId,
    record_id: r.recordId,
    title: r.title,
    description: r.description,
    notes: r.notes,
    state: r.state,
    owner: r.owner,
    owner_username: r.ownerUsername,
    owner_fullname: r.ownerFullname,
    node_count: r.nodeCount,
    link_count: r.linkCount,
    groups_json: JSON.stringify(r.groups),
    effective_permissions: r.effectivePermissions === null ? null : JSON.stringify(r.effectivePermissions),
    cml_created_at: r.cmlCreatedAt === null ? null : toSqlTime(r.cmlCreatedAt),
    modified_at: r.modifiedAt === null ? null : toSqlTime(r.modifiedAt),
    first_seen_at: toSqlTime(r.firstSeenAt),
    last_synced_at: toSqlTime(r.lastSyncedAt),
    orphaned_at: r.orphanedAt === null ? null : toSqlTime(r.orphanedAt),
    history_seq: r.historySeq,
    state_version: r.stateVersion,
  };
}

function parseJson<T>(text: unknown, fallback: T): T {
  if (typeof text !== 'string') return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

function fromRow(row: Row): LabRecord {
  return {
    serverId: String(row.server_id),
    labId: String(row.lab_id),
    recordId: String(row.record_id),
    title: String(row.title),
    description: String(row.description),
    notes: String(row.notes),
    state: String(row.state),
    owner: (row.owner as string | null) ?? null,
    ownerUsername: (row.owner_username as string | null) ?? null,
    ownerFullname: (row.owner_fullname as string | null) ?? null,
    nodeCount: Number(row.node_count),
    linkCount: Number(row.link_count),
    groups: parseJson<unknown[]>(row.groups_json, []),
    effectivePermissions: row.effective_permissions === null ? null : parseJson<string[] | null>(row.effective_permissions, null),
    cmlCreatedAt: fromSqlTime(row.cml_created_at as string | null),
    modifiedAt: fromSqlTime(row.modified_at as string | null),
    firstSeenAt: fromSqlTime(row.first_seen_at as string)!,
    lastSyncedAt: fromSqlTime(row.last_synced_at as string)!,
    orphanedAt: fromSqlTime(row.orphaned_at as string | null),
    historySeq: Number(row.history_seq),
    stateVersion: Number(row.state_version),
  };
}

/** What an upsert of a known lab rewrites: every column but the key and those set once. */
const UPDATABLE = rowColumns(CML_LAB_RECORDS).filter((c) => !['server_id', 'lab_id', 'record_id', 'first_seen_at'].includes(c));

export class CmlLabStore {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly dialect: Dialect,
  ) {}

  /** Every record of one server, orphans included: one query. */
  async loadServer(serverId: string): Promise<LabRecord[]> {
    const rows = await this.db.selectFrom('cml_lab_records').selectAll().where('server_id', '=', serverId).execute();
    return rows.map((r) => fromRow(r as Row));
  }

  /** Writes one sync's changes for a server atomically. Returns the number of statements issued. */
  async apply(serverId: string, c: LabChanges): Promise<number> {
    if (!c.upserts.length && !c.history.length && !c.touched.length && !c.orphaned.length) return 0;
    // Syncs of several servers write concurrently; InnoDB may pick one as a deadlock victim.
    return withTxRetry(() => this.db.transaction().execute(async (trx) => {
      let statements = 0;
      for (const part of chunks(c.upserts, INSERT_CHUNK)) {
        await this.upsert(trx, part);
        statements++;
      }
      for (const part of chunks(c.history, INSERT_CHUNK)) {
        await trx
          .insertInto('cml_lab_history')
          .values(part.map(({ labId, entry }) => ({
            server_id: serverId,
            lab_id: labId,
            seq: entry.seq,
            changed_at: toSqlTime(entry.timestamp),
            previous_state: entry.previous_state,
            new_state: entry.new_state,
            changed_fields: JSON.stringify(entry.changed_fields),
          })))
          .execute();
        statements++;
      }
      // The ring: entries that fell out of the newest 50 of each lab, in batched deletes.
      const trims = c.history.filter((h) => historyCutoff(h.entry.seq) > 0);
      for (const part of chunks(trims, IN_CHUNK)) {
        await trx
          .deleteFrom('cml_lab_history')
          .where('server_id', '=', serverId)
          .where((eb) => eb.or(part.map((h) => eb.and([eb('lab_id', '=', h.labId), eb('seq', '<=', historyCutoff(h.entry.seq))]))))
          .execute();
        statements++;
      }
      for (const part of chunks(c.touched, IN_CHUNK)) {
        await trx.updateTable('cml_lab_records').set({ last_synced_at: toSqlTime(c.syncedAt) }).where('server_id', '=', serverId).where('lab_id', 'in', part).execute();
        statements++;
      }
      for (const part of chunks(c.orphaned, IN_CHUNK)) {
        await trx
          .updateTable('cml_lab_records')
          .set({ orphaned_at: toSqlTime(c.syncedAt) })
          .where('server_id', '=', serverId)
          .where('lab_id', 'in', part)
          .where('orphaned_at', 'is', null)
          .execute();
        statements++;
      }
      return statements;
    }));
  }

  private async upsert(trx: Transaction<DB>, records: LabRecord[]): Promise<void> {
    const q = trx.insertInto('cml_lab_records').values(records.map(toRow));
    if (this.dialect === 'mysql') {
      await q.onDuplicateKeyUpdate(Object.fromEntries(UPDATABLE.map((c) => [c, sql`VALUES(${sql.ref(c)})`]))).execute();
    } else {
      await q
        .onConflict((oc) => oc.columns(['server_id', 'lab_id']).doUpdateSet(Object.fromEntries(UPDATABLE.map((c) => [c, sql`excluded.${sql.ref(c)}`]))))
        .execute();
    }
  }

  /** Removes records marked orphaned (history goes with them, ON DELETE CASCADE). Returns the lab ids removed. */
  /** Deletes the server's orphaned records, all or those orphaned before `orphanedBefore` (ISO), with their history. */
  async purgeOrphans(serverId: string, orphanedBefore?: string): Promise<string[]> {
    return withTxRetry(() => this.db.transaction().execute(async (trx) => {
      let q = trx.selectFrom('cml_lab_records').select('lab_id').where('server_id', '=', serverId).where('orphaned_at', 'is not', null);
      if (orphanedBefore !== undefined) q = q.where('orphaned_at', '<', toSqlTime(orphanedBefore));
      const rows = await q.execute();
      const ids = rows.map((r) => r.lab_id);
      for (const part of chunks(ids, IN_CHUNK)) {
        // Explicit, so a MySQL table created without the foreign key still loses the history.
        await trx.deleteFrom('cml_lab_history').where('server_id', '=', serverId).where('lab_id', 'in', part).execute();
        await trx.deleteFrom('cml_lab_records').where('server_id', '=', serverId).where('lab_id', 'in', part).execute();
      }
      return ids;
    }));
  }

  async list(o: { serverIds?: readonly string[]; includeOrphans?: boolean } = {}): Promise<LabRecord[]> {
    let q = this.db.selectFrom('cml_lab_records').selectAll();
    if (o.serverIds?.length) q = q.where('server_id', 'in', [...o.serverIds]);
    if (!o.includeOrphans) q = q.where('orphaned_at', 'is', null);
    const rows = await q.orderBy('server_id').orderBy('title').orderBy('lab_id').execute();
    return rows.map((r) => fromRow(r as Row));
  }

  async findLab(labId: string, serverId?: string): Promise<LabRecord[]> {
    let q = this.db.selectFrom('cml_lab_records').selectAll().where('lab_id', '=', labId);
    if (serverId) q = q.where('server_id', '=', serverId);
    return (await q.orderBy('server_id').execute()).map((r) => fromRow(r as Row));
  }

  /** History of the given labs, oldest first, in one query. Keyed `${serverId}\u0000${labId}`. */
  async history(labs: readonly { serverId: string; labId: string }[]): Promise<Map<string, HistoryEntry[]>> {
    const out = new Map<string, HistoryEntry[]>();
    if (!labs.length) return out;
    for (const part of chunks(labs, IN_CHUNK)) {
      const rows = await this.db
        .selectFrom('cml_lab_history')
        .selectAll()
        .where((eb) => eb.or(part.map((l) => eb.and([eb('server_id', '=', l.serverId), eb('lab_id', '=', l.labId)]))))
        .orderBy('server_id')
        .orderBy('lab_id')
        .orderBy('seq')
        .execute();
      for (const r of rows) {
        const key = `${r.server_id}\u0000${r.lab_id}`;
        const list = out.get(key) ?? [];
        list.push({
          seq: Number(r.seq),
          timestamp: fromSqlTime(r.changed_at)!,
          previous_state: r.previous_state,
          new_state: r.new_state,
          changed_fields: parseJson(r.changed_fields, {}),
        });
        out.set(key, list);
      }
    }
    return out;
  }
}

export const historyKey = (serverId: string, labId: string) => `${serverId}\u0000${labId}`;
