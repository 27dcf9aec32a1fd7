// The Lab Gateway ops-worker's four tables, exactly as upstream's mysql/002-labstation-ops.sql creates them
// (reference/labgateway/NOTES.md §2), and labops' migration bookkeeping.
import { bigint, boolean, datetime, enumOf, int, json, longtext, serial, table, text, varchar, type Migration } from './table.js';

export const LAB_HOSTS = table('lab_hosts', {
  columns: {
    id: serial(),
    name: varchar(128).notNull(),
    address: varchar(255).notNull(),
    mac: varchar(32),
    mode: enumOf('pure', 'hybrid').default('pure'),
    last_seen: datetime(),
    created_at: datetime().defaultNow(),
    updated_at: datetime().defaultNow().onUpdateNow(),
  },
  unique: [{ name: 'uk_lab_hosts_name', columns: ['name'] }],
});

/** The heartbeat's own columns beside its document (labops_host_digest repeats them for listings). */
export const HEARTBEAT_STATE_COLUMNS = {
  ready: boolean(),
  local_mode: boolean(),
  local_session: boolean(),
  last_forced_logoff_ts: datetime(),
  last_forced_logoff_user: varchar(128),
  last_power_action_ts: datetime(),
  last_power_action_mode: varchar(32),
};

export const LAB_HOST_HEARTBEAT = table('lab_host_heartbeat', {
  columns: {
    id: serial(),
    host_id: bigint().notNull(),
    timestamp_utc: datetime().notNull(),
    ...HEARTBEAT_STATE_COLUMNS,
    raw_json: longtext().notNull(),
    created_at: datetime().defaultNow(),
  },
  indexes: [{ name: 'idx_host_ts', columns: ['host_id', 'timestamp_utc'] }],
  foreignKeys: [{ name: 'fk_heartbeat_host', columns: ['host_id'], references: { table: 'lab_hosts', columns: ['id'] }, onDelete: 'CASCADE' }],
});

export const LAB_HOST_EVENTS = table('lab_host_events', {
  columns: {
    id: serial(),
    host_id: bigint().notNull(),
    kind: varchar(64).notNull(),
    timestamp_utc: datetime().notNull(),
    payload: json(),
    created_at: datetime().defaultNow(),
  },
  indexes: [{ name: 'idx_host_kind_ts', columns: ['host_id', 'kind', 'timestamp_utc'] }],
  foreignKeys: [{ name: 'fk_events_host', columns: ['host_id'], references: { table: 'lab_hosts', columns: ['id'] }, onDelete: 'CASCADE' }],
});

export const RESERVATION_OPERATIONS = table('reservation_operations', {
  columns: {
    id: serial(),
    reservation_id: varchar(128).notNull(),
    lab_id: varchar(128),
    host: varchar(128).notNull(),
    action: varchar(32).notNull(),
    status: varchar(32).notNull(),
    success: boolean().notNull().default(false),
    response_code: int(),
    duration_ms: int(),
    payload: json(),
    message: text(),
    created_at: datetime().defaultNow(),
  },
  indexes: [{ name: 'idx_reservation_action', columns: ['reservation_id', 'action'] }],
});

export const OPS_TABLES = [LAB_HOSTS, LAB_HOST_HEARTBEAT, LAB_HOST_EVENTS, RESERVATION_OPERATIONS] as const;

export const OPS_MIGRATION: Migration = {
  id: '0001_labstation_ops',
  description: 'Lab Gateway ops tables (lab_hosts, lab_host_heartbeat, lab_host_events, reservation_operations)',
  tables: OPS_TABLES,
};

/** Which migrations have run: labops' own, created before any migration. */
export const LABOPS_MIGRATIONS = table('labops_migrations', {
  columns: {
    id: varchar(64).primaryKey(),
    applied_at: datetime().notNull(),
  },
});
