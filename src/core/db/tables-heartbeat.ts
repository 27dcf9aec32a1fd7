// Tables for heartbeat ingestion beyond the ops-worker's four: the reservation table labops reads (owned by
// the auth/blockchain services, created here only on SQLite and in tests), forced logoffs linked to
// reservations (the table the Lab Station telemetry doc suggests), alert lifecycle, and per-host poll state.
import type { Migration, TableDef } from './migrations.js';

const LAB_RESERVATIONS: TableDef = {
  name: 'lab_reservations',
  foreign: true,
  owner: 'the Lab Gateway auth service (blockchain-services)',
  columns: ['transaction_hash', 'lab_id', 'start_time', 'end_time', 'status', 'updated_at'],
  mysql: `CREATE TABLE IF NOT EXISTS lab_reservations (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  transaction_hash VARCHAR(66) NOT NULL,
  lab_id VARCHAR(128),
  wallet_address VARCHAR(64),
  start_time TIMESTAMP NULL,
  end_time TIMESTAMP NULL,
  status ENUM('PENDING','CONFIRMED','ACTIVE','COMPLETED','CANCELLED') DEFAULT 'PENDING',
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  UNIQUE KEY uk_lab_reservations_tx (transaction_hash)
)`,
  sqlite: [
    `CREATE TABLE IF NOT EXISTS lab_reservations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  transaction_hash VARCHAR(66) NOT NULL UNIQUE,
  lab_id VARCHAR(128),
  wallet_address VARCHAR(64),
  start_time DATETIME NULL,
  end_time DATETIME NULL,
  status TEXT DEFAULT 'PENDING' CHECK (status IN ('PENDING','CONFIRMED','ACTIVE','COMPLETED','CANCELLED')),
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP
)`,
  ],
};

const FORCED_LOGOFFS: TableDef = {
  name: 'reservation_forced_logoffs',
  columns: ['id', 'reservation_id', 'host', 'event_id', 'timestamp_utc', 'user', 'session_id', 'grace', 'message', 'force_logoff', 'created_at'],
  mysql: `CREATE TABLE IF NOT EXISTS reservation_forced_logoffs (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  reservation_id VARCHAR(128) NULL,
  lab_id VARCHAR(128) NULL,
  host VARCHAR(128) NOT NULL,
  event_id BIGINT NULL,
  timestamp_utc DATETIME NOT NULL,
  user VARCHAR(128) NULL,
  session_id VARCHAR(32) NULL,
  grace INT NULL,
  message TEXT NULL,
  force_logoff BOOLEAN NULL,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  UNIQUE KEY uk_forced_logoff (host, timestamp_utc, session_id),
  KEY idx_forced_logoff_reservation (reservation_id)
)`,
  sqlite: [
    `CREATE TABLE IF NOT EXISTS reservation_forced_logoffs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  reservation_id VARCHAR(128) NULL,
  lab_id VARCHAR(128) NULL,
  host VARCHAR(128) NOT NULL,
  event_id INTEGER NULL,
  timestamp_utc DATETIME NOT NULL,
  user VARCHAR(128) NULL,
  session_id VARCHAR(32) NULL,
  grace INT NULL,
  message TEXT NULL,
  force_logoff BOOLEAN NULL,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT uk_forced_logoff UNIQUE (host, timestamp_utc, session_id)
)`,
    'CREATE INDEX IF NOT EXISTS idx_forced_logoff_reservation ON reservation_forced_logoffs (reservation_id)',
  ],
};

const ALERTS: TableDef = {
  name: 'labops_alerts',
  columns: ['id', 'host', 'rule', 'open_key', 'state', 'message', 'details', 'opened_at', 'last_seen_at', 'resolved_at'],
  mysql: `CREATE TABLE IF NOT EXISTS labops_alerts (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  host VARCHAR(128) NOT NULL,
  rule VARCHAR(64) NOT NULL,
  open_key VARCHAR(200) NULL,
  state VARCHAR(16) NOT NULL,
  message TEXT NOT NULL,
  details JSON NULL,
  opened_at DATETIME NOT NULL,
  last_seen_at DATETIME NOT NULL,
  resolved_at DATETIME NULL,
  UNIQUE KEY uk_labops_alerts_open (open_key),
  KEY idx_labops_alerts_host (host, rule)
)`,
  sqlite: [
    `CREATE TABLE IF NOT EXISTS labops_alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  host VARCHAR(128) NOT NULL,
  rule VARCHAR(64) NOT NULL,
  open_key VARCHAR(200) NULL UNIQUE,
  state VARCHAR(16) NOT NULL,
  message TEXT NOT NULL,
  details JSON NULL,
  opened_at DATETIME NOT NULL,
  last_seen_at DATETIME NOT NULL,
  resolved_at DATETIME NULL
)`,
    'CREATE INDEX IF NOT EXISTS idx_labops_alerts_host ON labops_alerts (host, rule)',
  ],
};

const POLL_STATE: TableDef = {
  name: 'labops_host_poll_state',
  columns: ['host_id', 'last_poll_at', 'last_change_at', 'last_heartbeat_ts', 'last_error', 'last_error_at', 'consecutive_failures'],
  mysql: `CREATE TABLE IF NOT EXISTS labops_host_poll_state (
  host_id BIGINT NOT NULL PRIMARY KEY,
  last_poll_at DATETIME NULL,
  last_change_at DATETIME NULL,
  last_heartbeat_ts DATETIME NULL,
  last_error TEXT NULL,
  last_error_at DATETIME NULL,
  consecutive_failures INT NOT NULL DEFAULT 0,
  reported_host VARCHAR(128) NULL,
  CONSTRAINT fk_poll_state_host FOREIGN KEY (host_id) REFERENCES lab_hosts(id) ON DELETE CASCADE
)`,
  sqlite: [
    `CREATE TABLE IF NOT EXISTS labops_host_poll_state (
  host_id INTEGER NOT NULL PRIMARY KEY,
  last_poll_at DATETIME NULL,
  last_change_at DATETIME NULL,
  last_heartbeat_ts DATETIME NULL,
  last_error TEXT NULL,
  last_error_at DATETIME NULL,
  consecutive_failures INT NOT NULL DEFAULT 0,
  reported_host VARCHAR(128) NULL,
  CONSTRAINT fk_poll_state_host FOREIGN KEY (host_id) REFERENCES lab_hosts(id) ON DELETE CASCADE
)`,
  ],
};

export const HEARTBEAT_MIGRATION: Migration = {
  id: '0002_heartbeat',
  description: 'reservations (read), forced logoffs linked to reservations, alerts, host poll state',
  tables: [LAB_RESERVATIONS, FORCED_LOGOFFS, ALERTS, POLL_STATE],
};
