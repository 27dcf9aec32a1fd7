// labops_instances over Kysely (MySQL/MariaDB or SQLite): the rows behind the daemon's shard leases.
import { sql } from 'kysely';
import type { Database } from './database.js';

export interface InstanceRow {
  loop: string;
  instance: string;
  hostname: string;
  pid: number;
  startedAtMs: number;
  expiresAtMs: number;
}

export class InstanceStore {
  constructor(private readonly db: Database) {}

  async nowMs(): Promise<number> {
    const q =
      this.db.dialect === 'mysql'
        ? sql<{ now_ms: string | number }>`SELECT CAST(ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000) AS SIGNED) AS now_ms`
        : sql<{ now_ms: string | number }>`SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) AS now_ms`;
    const r = await q.execute(this.db.kysely);
    return Number(r.rows[0]!.now_ms);
  }

  async renew(row: InstanceRow): Promise<void> {
    const values = {
      loop_name: row.loop,
      instance_id: row.instance,
      hostname: row.hostname.slice(0, 255),
      pid: row.pid,
      started_at_ms: row.startedAtMs,
      renewed_at_ms: row.expiresAtMs,
      expires_at_ms: row.expiresAtMs,
    };
    const update = { hostname: values.hostname, pid: row.pid, started_at_ms: row.startedAtMs, renewed_at_ms: row.expiresAtMs, expires_at_ms: row.expiresAtMs };
    const q = this.db.kysely.insertInto('labops_instances').values(values);
    await (this.db.dialect === 'mysql' ? q.onDuplicateKeyUpdate(update) : q.onConflict((oc) => oc.columns(['loop_name', 'instance_id']).doUpdateSet(update))).execute();
  }

  async live(loop: string, nowMs: number): Promise<InstanceRow[]> {
    const rows = await this.db.kysely
      .selectFrom('labops_instances')
      .select(['loop_name', 'instance_id', 'hostname', 'pid', 'started_at_ms', 'expires_at_ms'])
      .where('loop_name', '=', loop)
      .where('expires_at_ms', '>', nowMs)
      .orderBy('instance_id')
      .execute();
    return rows.map((r) => ({ loop: r.loop_name, instance: r.instance_id, hostname: r.hostname, pid: Number(r.pid), startedAtMs: Number(r.started_at_ms), expiresAtMs: Number(r.expires_at_ms) }));
  }

  async leave(instance: string, loops: readonly string[]): Promise<void> {
    if (loops.length === 0) return;
    await this.db.kysely.deleteFrom('labops_instances').where('instance_id', '=', instance).where('loop_name', 'in', [...loops]).execute();
  }

  async prune(beforeMs: number): Promise<number> {
    const r = await this.db.kysely.deleteFrom('labops_instances').where('expires_at_ms', '<', beforeMs).executeTakeFirst();
    return Number(r.numDeletedRows ?? 0);
  }
}
