// Helpers for tests of the collector tables: rows as the PHP UI writes them.
import { sql, type Insertable, type Kysely } from 'kysely';
import type { DB } from '../../src/core/db/schema.js';

export async function addServer(db: Kysely<DB>, v: { ip_address?: string | null; hostname?: string | null; ssh_port?: number | null; ssh_user?: string | null; ssh_password?: string | null; enabled?: number }): Promise<number> {
  const r = await db.insertInto('servers').values({ ip_address: null, hostname: null, ssh_user: null, ssh_password: null, ssh_port: 22, enabled: 1, ...v }).executeTakeFirstOrThrow();
  return Number(r.insertId);
}

export async function addLab(db: Kysely<DB>, v: { server_id?: number | null; provision_script_path?: string | null; cleanup_script_path?: string | null; bastion_host?: string | null; bastion_user?: string | null; bastion_password?: string | null }): Promise<number> {
  const r = await db.insertInto('labs').values({ lab_name: 'lab', server_id: null, provision_script_path: null, cleanup_script_path: null, duration_minutes: 60, active: 1, bastion_host: null, bastion_user: null, bastion_password: null, ...v }).executeTakeFirstOrThrow();
  return Number(r.insertId);
}

export async function addSession(db: Kysely<DB>, v: { lab_id: number | null; username?: string | null; namespace?: string | null; status?: Insertable<DB['lab_sessions']>['status']; provisioned?: number | null; access_expiry?: string | null; created_at?: string }): Promise<number> {
  const r = await db
    .insertInto('lab_sessions')
    .values({ user_id: 1, username: 'student', namespace: 'user-1-12345', status: 'REQUESTED', provisioned: 0, session_token: 'abc123', plan: 'FREE', access_start: '2026-01-01 00:00:00', access_expiry: '2099-01-01 00:00:00', ...v })
    .executeTakeFirstOrThrow();
  return Number(r.insertId);
}

export async function sessionRow(db: Kysely<DB>, id: number) {
  return db.selectFrom('lab_sessions').select(['id', 'status', 'provisioned']).where('id', '=', id).executeTakeFirstOrThrow();
}

export async function countStatus(db: Kysely<DB>, status: string): Promise<number> {
  const r = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM lab_sessions WHERE status = ${status}`.execute(db);
  return Number(r.rows[0]!.n);
}
