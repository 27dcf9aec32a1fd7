// Reads and writes the collector's tables for provisioning, cleanup and server checks. Every state change
// is a conditional UPDATE whose affected-rows count says whether this instance won the row.
import { sql, type InferResult, type Kysely, type Selectable } from 'kysely';
import { UsageError } from '../../domain/errors.js';
import type { DB } from './schema.js';
import { existingTables, tableColumns, type Dialect } from './migrations.js';
import { withTxRetry } from './retry.js';
import { neededColumns } from './table.js';
import { ALERTS, SERVER_METRICS } from './tables-collector.js';

/** One statement InnoDB chose as a deadlock victim (beside an old worker's SELECT … FOR UPDATE) was rolled back: run it again. */
const retryStatement = <T>(run: () => Promise<T>) => withTxRetry(run, 6);

/** What a server check reads of a server. */
const SERVER_COLUMNS = ['id', 'hostname', 'ip_address', 'ssh_user', 'ssh_port', 'ssh_password'] as const;

/** The columns each job needs; a missing one is named before anything is touched. */
export const NEEDED: Record<'provision' | 'cleanup' | 'servers', Record<string, readonly string[]>> = {
  provision: {
    lab_sessions: ['id', 'username', 'lab_id', 'namespace', 'access_expiry', 'status', 'provisioned', 'created_at'],
    labs: ['id', 'server_id', 'provision_script_path', 'bastion_host', 'bastion_user', 'bastion_password'],
    servers: ['id', 'ip_address', 'hostname', 'ssh_user', 'ssh_port', 'ssh_password'],
    labops_session_log: ['id'],
    labops_session_state: ['session_id'],
  },
  cleanup: {
    lab_sessions: ['id', 'username', 'lab_id', 'namespace', 'access_expiry', 'status', 'provisioned'],
    labs: ['id', 'server_id', 'cleanup_script_path', 'bastion_host', 'bastion_user', 'bastion_password'],
    servers: ['id', 'ip_address', 'hostname', 'ssh_user', 'ssh_port', 'ssh_password'],
    labops_session_log: ['id'],
    labops_session_state: ['session_id'],
  },
  servers: {
    servers: [...SERVER_COLUMNS, 'enabled'],
    server_metrics: neededColumns(SERVER_METRICS),
    alerts: neededColumns(ALERTS),
  },
};

export interface LogEntry {
  sessionId: number;
  phase: 'provision' | 'cleanup';
  outcome: string;
  exitCode?: number | null;
  message?: string | null;
  stdout?: string | null;
  stderr?: string | null;
  host?: string | null;
  durationMs?: number | null;
}

/** What a session job reads: the session, its lab, and the lab's server (server_found is null when server_id names none). */
function sessionQuery(db: Kysely<DB>) {
  return db
    .selectFrom('lab_sessions as s')
    .innerJoin('labs as l', 'l.id', 's.lab_id')
    .leftJoin('servers as sv', 'sv.id', 'l.server_id')
    .select([
      's.id',
      's.username',
      's.lab_id',
      's.namespace',
      's.access_expiry',
      's.status',
      'l.provision_script_path',
      'l.cleanup_script_path',
      'l.bastion_host',
      'l.bastion_user',
      'l.bastion_password',
      'l.server_id',
      'sv.id as server_found',
      'sv.ip_address',
      'sv.hostname',
      'sv.ssh_user',
      'sv.ssh_password',
      'sv.ssh_port',
    ]);
}

export type SessionRow = InferResult<ReturnType<typeof sessionQuery>>[number];

export type ServerRow = Pick<Selectable<DB['servers']>, (typeof SERVER_COLUMNS)[number]>;

type ServerMetrics = Selectable<DB['server_metrics']>;
/** One measurement: every column but id, none of them null. */
export type MetricRow = { [K in Exclude<keyof ServerMetrics, 'id'>]: NonNullable<ServerMetrics[K]> };

export class CollectorRepo {
  constructor(
    readonly db: Kysely<DB>,
    readonly dialect: Dialect,
    /** who holds a claim: host:pid */
    readonly instance: string,
  ) {}

  /** Names every table or column a job needs that the database lacks (a usage error: nothing is changed). */
  async checkSchema(job: keyof typeof NEEDED): Promise<void> {
    const tables = await existingTables(this.db, this.dialect);
    const missing: string[] = [];
    for (const [table, cols] of Object.entries(NEEDED[job])) {
      if (!tables.has(table)) {
        missing.push(`table ${table}`);
        continue;
      }
      const have = await tableColumns(this.db, this.dialect, table);
      for (const c of cols) if (!have.has(c)) missing.push(`${table}.${c}`);
    }
    if (missing.length) {
      throw new UsageError(`the database lacks what labops needs for ${job}: ${missing.join(', ')}`, {
        suggestion: missing.some((m) => m.includes('labops_')) ? 'run labops db migrate' : 'add the missing columns to the collector tables (see reference/cml/NOTES.md §2.1)',
      });
    }
    if (job === 'provision' && this.dialect === 'mysql') {
      // An ENUM status without PROVISIONING would make the claim fail (strict mode) or write ''.
      const r = await sql<{ t: string }>`SELECT column_type AS t FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'lab_sessions' AND column_name = 'status'`.execute(this.db);
      const type = r.rows[0]?.t ?? '';
      if (/^enum\(/i.test(type) && !/'PROVISIONING'/i.test(type)) {
        throw new UsageError(`lab_sessions.status is ${type}, which lacks 'PROVISIONING' (labops' claim state; the PHP UI already reads it)`, {
          suggestion: "ALTER TABLE lab_sessions MODIFY status ENUM(<the existing values>,'PROVISIONING')",
        });
      }
    }
  }

  /** REQUESTED, unprovisioned sessions of known labs, oldest first, not waiting out a backoff. */
  async provisionCandidates(limit: number, now: string, exclude: readonly number[] = []): Promise<SessionRow[]> {
    let q = sessionQuery(this.db)
      .where('s.status', '=', 'REQUESTED')
      .where((eb) => eb.or([eb('s.provisioned', '=', 0), eb('s.provisioned', 'is', null)]))
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('labops_session_state as st').select('st.session_id').whereRef('st.session_id', '=', 's.id').where('st.phase', '=', 'provision').where('st.next_attempt_at', '>', now))),
      );
    if (exclude.length) q = q.where('s.id', 'not in', exclude);
    return q.orderBy('s.created_at').orderBy('s.id').limit(limit).execute();
  }

  /** REQUESTED sessions whose lab_id names no labs row: the collector's INNER JOIN hid them silently. */
  async sessionsWithUnknownLab(limit: number): Promise<{ id: number; lab_id: number }[]> {
    const rows = await this.db
      .selectFrom('lab_sessions as s')
      .leftJoin('labs as l', 'l.id', 's.lab_id')
      .select(['s.id', 's.lab_id'])
      .where('s.status', '=', 'REQUESTED')
      .where((eb) => eb.or([eb('s.provisioned', '=', 0), eb('s.provisioned', 'is', null)]))
      .where('s.lab_id', 'is not', null)
      .where('l.id', 'is', null)
      .orderBy('s.id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ id: Number(r.id), lab_id: Number(r.lab_id) }));
  }

  private async upsertState(sessionId: number, phase: string, set: { attempts?: number; next_attempt_at?: string | null; last_error?: string | null; claimed_by?: string | null; claimed_at?: string | null }, now: string): Promise<void> {
    const values = { session_id: sessionId, phase, attempts: set.attempts ?? 0, next_attempt_at: set.next_attempt_at ?? null, last_error: set.last_error ?? null, claimed_by: set.claimed_by ?? null, claimed_at: set.claimed_at ?? null, updated_at: now };
    const update = { ...set, updated_at: now };
    if (this.dialect === 'mysql') await retryStatement(() => this.db.insertInto('labops_session_state').values(values).onDuplicateKeyUpdate(update).execute());
    else await retryStatement(() => this.db.insertInto('labops_session_state').values(values).onConflict((oc) => oc.columns(['session_id', 'phase']).doUpdateSet(update)).execute());
  }

  async state(sessionId: number, phase: string): Promise<{ attempts: number } | undefined> {
    const r = await this.db.selectFrom('labops_session_state').select('attempts').where('session_id', '=', sessionId).where('phase', '=', phase).executeTakeFirst();
    return r ? { attempts: Number(r.attempts) } : undefined;
  }

  /** REQUESTED -> PROVISIONING; true only for the one instance whose UPDATE changed the row. */
  async claimProvision(id: number, now: string): Promise<boolean> {
    const r = await retryStatement(() => this.db
      .updateTable('lab_sessions')
      .set({ status: 'PROVISIONING' })
      .where('id', '=', id)
      .where('status', '=', 'REQUESTED')
      .where((eb) => eb.or([eb('provisioned', '=', 0), eb('provisioned', 'is', null)]))
      .executeTakeFirst());
    if (Number(r.numUpdatedRows) !== 1) return false;
    await this.upsertState(id, 'provision', { claimed_by: this.instance, claimed_at: now }, now);
    return true;
  }

  /** PROVISIONING -> ACTIVE (provisioned=1) or FAILED; the retry state is done with. */
  async finishProvision(id: number, status: 'ACTIVE' | 'FAILED'): Promise<void> {
    const set = status === 'ACTIVE' ? { status, provisioned: 1 } : { status };
    await retryStatement(() => this.db.updateTable('lab_sessions').set(set).where('id', '=', id).where('status', '=', 'PROVISIONING').execute());
    await retryStatement(() => this.db.deleteFrom('labops_session_state').where('session_id', '=', id).where('phase', '=', 'provision').execute());
  }

  /** PROVISIONING -> REQUESTED, optionally not before `nextAttemptAt`. */
  async releaseProvision(id: number, now: string, retry?: { attempts: number; nextAttemptAt: string; error: string }): Promise<void> {
    await retryStatement(() => this.db.updateTable('lab_sessions').set({ status: 'REQUESTED' }).where('id', '=', id).where('status', '=', 'PROVISIONING').execute());
    await this.upsertState(
      id,
      'provision',
      retry ? { attempts: retry.attempts, next_attempt_at: retry.nextAttemptAt, last_error: retry.error, claimed_by: null, claimed_at: null } : { claimed_by: null, claimed_at: null },
      now,
    );
  }

  /** Sessions left PROVISIONING by a labops instance that died: back to REQUESTED. Returns their ids. */
  async recoverStaleProvisioning(cutoff: string, now: string): Promise<number[]> {
    const stale = await this.db
      .selectFrom('labops_session_state as st')
      .innerJoin('lab_sessions as s', 's.id', 'st.session_id')
      .select('st.session_id')
      .where('st.phase', '=', 'provision')
      .where('st.claimed_at', '<', cutoff)
      .where('s.status', '=', 'PROVISIONING')
      .execute();
    const ids: number[] = [];
    for (const { session_id } of stale) {
      const r = await retryStatement(() => this.db.updateTable('lab_sessions').set({ status: 'REQUESTED' }).where('id', '=', session_id).where('status', '=', 'PROVISIONING').executeTakeFirst());
      await this.upsertState(session_id, 'provision', { claimed_by: null, claimed_at: null, last_error: 'claim expired: the labops instance running it stopped' }, now);
      if (Number(r.numUpdatedRows) === 1) ids.push(session_id);
    }
    return ids;
  }

  /** Provisioned sessions that are REVOKED or ACTIVE past access_expiry (UTC), not in backoff or claimed. */
  async cleanupCandidates(limit: number, now: string, staleCutoff: string, exclude: readonly number[] = []): Promise<SessionRow[]> {
    let q = sessionQuery(this.db)
      .where('s.provisioned', '=', 1)
      .where((eb) => eb.or([eb('s.status', '=', 'REVOKED'), eb.and([eb('s.status', '=', 'ACTIVE'), eb('s.access_expiry', '<', now)])]))
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('labops_session_state as st')
              .select('st.session_id')
              .whereRef('st.session_id', '=', 's.id')
              .where('st.phase', '=', 'cleanup')
              .where((eb) => eb.or([eb('st.next_attempt_at', '>', now), eb.and([eb('st.claimed_by', 'is not', null), eb('st.claimed_at', '>=', staleCutoff)])])),
          ),
        ),
      );
    if (exclude.length) q = q.where('s.id', 'not in', exclude);
    return q.orderBy('s.access_expiry').orderBy('s.id').limit(limit).execute();
  }

  /** Cleanup has no lab_sessions status of its own, so the claim lives in labops_session_state. */
  async claimCleanup(id: number, now: string, staleCutoff: string): Promise<boolean> {
    if (this.dialect === 'mysql') await retryStatement(() => this.db.insertInto('labops_session_state').ignore().values({ session_id: id, phase: 'cleanup', attempts: 0, updated_at: now }).execute());
    else await retryStatement(() => this.db.insertInto('labops_session_state').values({ session_id: id, phase: 'cleanup', attempts: 0, updated_at: now }).onConflict((oc) => oc.doNothing()).execute());
    const r = await retryStatement(() => this.db
      .updateTable('labops_session_state')
      .set({ claimed_by: this.instance, claimed_at: now, updated_at: now })
      .where('session_id', '=', id)
      .where('phase', '=', 'cleanup')
      .where((eb) => eb.or([eb('claimed_by', 'is', null), eb('claimed_at', '<', staleCutoff)]))
      .where((eb) => eb.or([eb('next_attempt_at', 'is', null), eb('next_attempt_at', '<=', now)]))
      .executeTakeFirst());
    if (Number(r.numUpdatedRows) !== 1) return false;
    // Another instance may have finished it between our select and our claim.
    const still = await this.db
      .selectFrom('lab_sessions')
      .select('id')
      .where('id', '=', id)
      .where('provisioned', '=', 1)
      .where((eb) => eb.or([eb('status', '=', 'REVOKED'), eb.and([eb('status', '=', 'ACTIVE'), eb('access_expiry', '<', now)])]))
      .executeTakeFirst();
    if (!still) {
      await retryStatement(() => this.db.deleteFrom('labops_session_state').where('session_id', '=', id).where('phase', '=', 'cleanup').execute());
      return false;
    }
    return true;
  }

  /** ACTIVE -> EXPIRED, REVOKED stays; provisioned=0 either way. */
  async finishCleanup(id: number): Promise<void> {
    await retryStatement(() => this.db
      .updateTable('lab_sessions')
      .set((eb) => ({ status: eb.case().when('status', '=', 'ACTIVE').then('EXPIRED' as const).else(eb.ref('status')).end(), provisioned: 0 }))
      .where('id', '=', id)
      .where('provisioned', '=', 1)
      .execute());
    await retryStatement(() => this.db.deleteFrom('labops_session_state').where('session_id', '=', id).where('phase', '=', 'cleanup').execute());
  }

  async failCleanup(id: number, now: string, retry: { attempts: number; nextAttemptAt: string; error: string } | null): Promise<void> {
    await this.upsertState(id, 'cleanup', retry ? { attempts: retry.attempts, next_attempt_at: retry.nextAttemptAt, last_error: retry.error, claimed_by: null, claimed_at: null } : { claimed_by: null, claimed_at: null }, now);
  }

  async log(e: LogEntry, now: string): Promise<void> {
    await this.db
      .insertInto('labops_session_log')
      .values({
        session_id: e.sessionId,
        phase: e.phase,
        outcome: e.outcome,
        exit_code: e.exitCode ?? null,
        message: e.message ?? null,
        stdout: e.stdout ?? null,
        stderr: e.stderr ?? null,
        host: e.host ?? null,
        duration_ms: e.durationMs ?? null,
        instance: this.instance,
        created_at: now,
      })
      .execute();
  }

  // ---- server checks ----

  async enabledServers(): Promise<ServerRow[]> {
    const rows = await this.db.selectFrom('servers').select(SERVER_COLUMNS).where('enabled', '=', 1).orderBy('id').execute();
    return rows.map((r) => ({ ...r, id: Number(r.id), ssh_port: r.ssh_port === null ? null : Number(r.ssh_port) }));
  }

  async insertMetric(m: MetricRow): Promise<void> {
    await this.db.insertInto('server_metrics').values(m).execute();
  }

  async activeAlertTypes(serverId: number): Promise<Set<string>> {
    const rows = await this.db.selectFrom('alerts').select('alert_type').where('server_id', '=', serverId).where('active', '=', 1).execute();
    return new Set(rows.map((r) => String(r.alert_type)));
  }

  /** Inserts an active alert unless one of the same server and type is already active. */
  async openAlert(serverId: number, type: string, message: string, now: string): Promise<boolean> {
    const r = await sql`INSERT INTO alerts (server_id, alert_type, message, active, notified, created_at)
      SELECT ${serverId}, ${type}, ${message}, 1, 0, ${now} FROM (SELECT 1 AS one) AS d
      WHERE NOT EXISTS (SELECT 1 FROM alerts WHERE server_id = ${serverId} AND alert_type = ${type} AND active = 1)`.execute(this.db);
    return Number(r.numAffectedRows ?? 0) > 0;
  }

  async clearAlerts(serverId: number, types: readonly string[]): Promise<number> {
    if (types.length === 0) return 0;
    const r = await this.db.updateTable('alerts').set({ active: 0 }).where('server_id', '=', serverId).where('alert_type', 'in', types).where('active', '=', 1).executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  async pruneMetrics(cutoff: string): Promise<number> {
    const r = await this.db.deleteFrom('server_metrics').where('collected_at', '<', cutoff).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
