// The SSH auto-provisioning collector's tables (reference/cml/NOTES.md §2.1), owned by the collector's
// PHP UI: `foreign`, so labops creates them only on SQLite and in tests, and against MySQL checks that the
// columns it needs exist. servers, server_metrics and alerts follow the real mysqldump DDL; lab_sessions
// and labs have no upstream DDL, so their types are the notes' inferences. Plus labops' own tables.
// On MySQL the keys are upstream's; on SQLite, where index names are database-wide, labops names its own.
import { datetime, enumOf, flag, float, int, mediumtext, serial, table, text, timestamp, varchar, type Migration } from './table.js';

export const SERVERS = table('servers', {
  foreign: true,
  columns: {
    id: serial('INT'),
    hostname: varchar(255),
    ip_address: varchar(50),
    ssh_user: varchar(50),
    ssh_port: int().default(22),
    ssh_password: varchar(255),
    enabled: flag().default(1),
    added_on: timestamp().defaultNow(),
    purpose: varchar(50).unread(),
  },
});

export const LABS = table('labs', {
  foreign: true,
  columns: {
    id: serial('INT'),
    course_id: int().unread(),
    lab_name: varchar(255),
    server_id: int(),
    provision_script_path: varchar(500),
    cleanup_script_path: varchar(500),
    duration_minutes: int(),
    max_concurrent_users: int().unread(),
    active: flag().default(1),
    bastion_host: varchar(255),
    bastion_user: varchar(100),
    bastion_password: varchar(255),
    created_at: timestamp().defaultNow().unread(),
    updated_at: timestamp().defaultNow().onUpdateNow().unread(),
  },
});

export const LAB_SESSIONS = table('lab_sessions', {
  foreign: true,
  columns: {
    id: serial('INT'),
    user_id: int(),
    username: varchar(255),
    lab_template_id: int().unread(),
    lab_id: int(),
    namespace: varchar(255),
    access_start: datetime(),
    access_expiry: datetime(),
    status: enumOf('REQUESTED', 'PROVISIONING', 'ACTIVE', 'FAILED', 'EXPIRED', 'REVOKED').default('REQUESTED'),
    session_token: varchar(64),
    // as first created on SQLite: labops never writes plan
    plan: enumOf('FREE', 'PAID').default('FREE').unchecked(),
    provisioned: flag().default(0),
    created_at: timestamp().defaultNow(),
  },
  indexes: [
    { name: 'idx_template', columns: ['lab_template_id'], only: 'mysql' },
    { name: 'idx_status', columns: ['status', 'provisioned'], only: 'mysql' },
    { name: 'idx_lab_sessions_status', columns: ['status', 'provisioned'], only: 'sqlite' },
  ],
});

export const SERVER_METRICS = table('server_metrics', {
  foreign: true,
  columns: {
    id: serial(),
    server_id: int().notNull(),
    os_version: varchar(255),
    virtualization: varchar(100),
    uptime: varchar(255),
    sshd_status: varchar(20),
    reachable: flag().default(0),
    cpu_usage: float().default(0),
    mem_usage: float().default(0),
    disk_usage: float().default(0),
    collected_at: timestamp().defaultNow(),
  },
  indexes: [
    { name: 'server_id', columns: ['server_id'], only: 'mysql' },
    { name: 'idx_server_metrics_server', columns: ['server_id', 'collected_at'], only: 'sqlite' },
  ],
  foreignKeys: [{ name: 'server_metrics_ibfk_1', columns: ['server_id'], references: { table: 'servers', columns: ['id'] }, onDelete: 'CASCADE' }],
});

export const ALERTS = table('alerts', {
  foreign: true,
  columns: {
    id: serial(),
    server_id: int().notNull(),
    alert_type: varchar(50),
    message: text(),
    active: flag().default(1),
    notified: flag().default(0),
    created_at: timestamp().defaultNow(),
  },
  indexes: [
    { name: 'server_id', columns: ['server_id'], only: 'mysql' },
    { name: 'idx_alerts_server', columns: ['server_id', 'alert_type', 'active'], only: 'sqlite' },
  ],
  foreignKeys: [{ name: 'alerts_ibfk_1', columns: ['server_id'], references: { table: 'servers', columns: ['id'] }, onDelete: 'CASCADE' }],
});

/** labops' own: every attempt with the script's output, which the collector only printed. */
export const LABOPS_SESSION_LOG = table('labops_session_log', {
  columns: {
    id: serial(),
    session_id: int().notNull(),
    phase: varchar(16).notNull(),
    outcome: varchar(32).notNull(),
    exit_code: int(),
    message: text(),
    stdout: mediumtext(),
    stderr: mediumtext(),
    host: varchar(255),
    duration_ms: int(),
    instance: varchar(128),
    created_at: datetime().defaultNow(),
  },
  indexes: [{ name: 'idx_session_phase', columns: ['session_id', 'phase'] }],
});

/** labops' own: retry/backoff state and the cleanup claim (lab_sessions has no status for "cleaning"). */
export const LABOPS_SESSION_STATE = table('labops_session_state', {
  columns: {
    session_id: int().notNull(),
    phase: varchar(16).notNull(),
    attempts: int().notNull().default(0),
    next_attempt_at: datetime(),
    last_error: text(),
    claimed_by: varchar(128),
    claimed_at: datetime(),
    updated_at: datetime().defaultNow(),
  },
  primaryKey: ['session_id', 'phase'],
});

export const COLLECTOR_TABLES = [SERVERS, LABS, LAB_SESSIONS, SERVER_METRICS, ALERTS, LABOPS_SESSION_LOG, LABOPS_SESSION_STATE] as const;

export const COLLECTOR_MIGRATION: Migration = {
  id: '0007_collector_ssh',
  description: 'SSH collector tables (servers, labs, lab_sessions, server_metrics, alerts; foreign) and labops session log/state',
  tables: COLLECTOR_TABLES,
};
