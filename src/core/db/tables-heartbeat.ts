// Tables for heartbeat ingestion beyond the ops-worker's four: the reservation table labops reads (owned by
// the auth/blockchain services, created here only on SQLite and in tests), forced logoffs linked to
// reservations (the table the Lab Station telemetry doc suggests), alert lifecycle, and per-host poll state.
import { bigint, boolean, datetime, enumOf, int, json, serial, table, text, timestamp, varchar, type Migration } from './table.js';
import { HEARTBEAT_STATE_COLUMNS } from './tables-ops.js';

export const LAB_RESERVATIONS = table('lab_reservations', {
  foreign: true,
  owner: 'the Lab Gateway auth service (blockchain-services)',
  columns: {
    id: serial().optional(),
    transaction_hash: varchar(66).notNull(),
    lab_id: varchar(128),
    wallet_address: varchar(64).optional(),
    start_time: timestamp(),
    end_time: timestamp(),
    status: enumOf('PENDING', 'CONFIRMED', 'ACTIVE', 'COMPLETED', 'CANCELLED').default('PENDING'),
    created_at: datetime().defaultNow().optional(),
    updated_at: datetime().defaultNow().onUpdateNow(),
  },
  unique: [{ name: 'uk_lab_reservations_tx', columns: ['transaction_hash'] }],
});

export const RESERVATION_FORCED_LOGOFFS = table('reservation_forced_logoffs', {
  columns: {
    id: serial(),
    reservation_id: varchar(128),
    lab_id: varchar(128),
    host: varchar(128).notNull(),
    event_id: bigint(),
    timestamp_utc: datetime().notNull(),
    user: varchar(128),
    session_id: varchar(32),
    grace: int(),
    message: text(),
    force_logoff: boolean(),
    created_at: datetime().defaultNow(),
  },
  unique: [{ name: 'uk_forced_logoff', columns: ['host', 'timestamp_utc', 'session_id'] }],
  indexes: [{ name: 'idx_forced_logoff_reservation', columns: ['reservation_id'] }],
});

export const LABOPS_ALERTS = table('labops_alerts', {
  columns: {
    id: serial(),
    host: varchar(128).notNull(),
    rule: varchar(64).notNull(),
    open_key: varchar(200),
    state: varchar(16).notNull(),
    message: text().notNull(),
    details: json(),
    opened_at: datetime().notNull(),
    last_seen_at: datetime().notNull(),
    resolved_at: datetime(),
  },
  unique: [{ name: 'uk_labops_alerts_open', columns: ['open_key'] }],
  indexes: [{ name: 'idx_labops_alerts_host', columns: ['host', 'rule'] }],
});

export const LABOPS_HOST_POLL_STATE = table('labops_host_poll_state', {
  columns: {
    host_id: bigint().primaryKey(),
    last_poll_at: datetime(),
    last_change_at: datetime(),
    last_heartbeat_ts: datetime(),
    last_error: text(),
    last_error_at: datetime(),
    consecutive_failures: int().notNull().default(0),
    reported_host: varchar(128),
  },
  foreignKeys: [{ name: 'fk_poll_state_host', columns: ['host_id'], references: { table: 'lab_hosts', columns: ['id'] }, onDelete: 'CASCADE' }],
});

/**
 * What labops reads of each host's latest heartbeat document, written with it (src/domain/heartbeat/digest.ts):
 * listings and alert runs read this small row instead of the heartbeat's own (6 KB with its document: reading
 * 10 000 of them took MariaDB 0.6 s, parsing their documents 0.5 s more), and the start of a not-ready run is kept
 * here instead of being searched in a week of heartbeat history every run.
 */
export const LABOPS_HOST_DIGEST = table('labops_host_digest', {
  columns: {
    host_id: bigint().primaryKey(),
    /** the heartbeat this row describes (lab_host_heartbeat.timestamp_utc), and its columns a listing shows */
    heartbeat_ts: datetime().notNull(),
    ...HEARTBEAT_STATE_COLUMNS,
    /** the first of the heartbeats in a row, up to this one, with summary.ready false; NULL when this one is not */
    not_ready_since: datetime(),
    /** summary.issues, JSON */
    issues: text(),
    last_prepare_ts: datetime(),
    station_ts: datetime(),
    /** names of the NICs not ready for Wake-on-LAN, JSON */
    non_compliant_nics: text(),
    armed_count: int(),
    sleep_compliant: boolean(),
    hibernate_compliant: boolean(),
  },
  foreignKeys: [{ name: 'fk_host_digest_host', columns: ['host_id'], references: { table: 'lab_hosts', columns: ['id'] }, onDelete: 'CASCADE' }],
});

export const HEARTBEAT_TABLES = [LAB_RESERVATIONS, RESERVATION_FORCED_LOGOFFS, LABOPS_ALERTS, LABOPS_HOST_POLL_STATE, LABOPS_HOST_DIGEST] as const;

export const HEARTBEAT_MIGRATION: Migration = {
  id: '0002_heartbeat',
  description: 'reservations (read), forced logoffs linked to reservations, alerts, host poll state',
  tables: [LAB_RESERVATIONS, RESERVATION_FORCED_LOGOFFS, LABOPS_ALERTS, LABOPS_HOST_POLL_STATE],
};

export const HOST_DIGEST_MIGRATION: Migration = {
  id: '0013_host_digest',
  description: "what listings and alerts read of each host's latest heartbeat, and since when it is not ready",
  tables: [LABOPS_HOST_DIGEST],
};
