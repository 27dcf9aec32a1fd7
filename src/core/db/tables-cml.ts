// labops' CML lab cache: one row per (server, lab) and a per-lab history ring (last 50 entries).
import type { Migration, TableDef } from './migrations.js';

const RECORD_COLUMNS = [
  'server_id', 'lab_id', 'record_id', 'title', 'description', 'notes', 'state', 'owner', 'owner_username', 'owner_fullname',
  'node_count', 'link_count', 'groups_json', 'effective_permissions', 'cml_created_at', 'modified_at', 'first_seen_at',
  'last_synced_at', 'orphaned_at', 'history_seq', 'state_version',
];

const CML_TABLES: readonly TableDef[] = [
  {
    name: 'cml_lab_records',
    columns: RECORD_COLUMNS,
    // lab_notes may be 32768 characters: MEDIUMTEXT, since TEXT holds 65535 bytes of utf8mb4. No index on
    // last_synced_at (upstream has one that nothing reads): every sync rewrites that column on every row.
    mysql: `CREATE TABLE IF NOT EXISTS cml_lab_records (
  server_id VARCHAR(64) NOT NULL,
  lab_id VARCHAR(64) NOT NULL,
  record_id CHAR(36) NOT NULL,
  title VARCHAR(512) NOT NULL,
  description TEXT NOT NULL,
  notes MEDIUMTEXT NOT NULL,
  state VARCHAR(64) NOT NULL,
  owner VARCHAR(64) NULL,
  owner_username VARCHAR(128) NULL,
  owner_fullname VARCHAR(512) NULL,
  node_count INT NOT NULL DEFAULT 0,
  link_count INT NOT NULL DEFAULT 0,
  groups_json MEDIUMTEXT NOT NULL,
  effective_permissions TEXT NULL,
  cml_created_at DATETIME(3) NULL,
  modified_at DATETIME(3) NULL,
  first_seen_at DATETIME(3) NOT NULL,
  last_synced_at DATETIME(3) NOT NULL,
  orphaned_at DATETIME(3) NULL,
  history_seq INT NOT NULL DEFAULT 0,
  state_version INT NOT NULL DEFAULT 0,
  PRIMARY KEY (server_id, lab_id),
  UNIQUE KEY uk_cml_lab_records_record_id (record_id),
  KEY idx_cml_lab_records_lab_id (lab_id)
)`,
    sqlite: [
      `CREATE TABLE IF NOT EXISTS cml_lab_records (
  server_id VARCHAR(64) NOT NULL,
  lab_id VARCHAR(64) NOT NULL,
  record_id CHAR(36) NOT NULL,
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  notes TEXT NOT NULL,
  state VARCHAR(64) NOT NULL,
  owner VARCHAR(64) NULL,
  owner_username TEXT NULL,
  owner_fullname TEXT NULL,
  node_count INTEGER NOT NULL DEFAULT 0,
  link_count INTEGER NOT NULL DEFAULT 0,
  groups_json TEXT NOT NULL,
  effective_permissions TEXT NULL,
  cml_created_at DATETIME NULL,
  modified_at DATETIME NULL,
  first_seen_at DATETIME NOT NULL,
  last_synced_at DATETIME NOT NULL,
  orphaned_at DATETIME NULL,
  history_seq INTEGER NOT NULL DEFAULT 0,
  state_version INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (server_id, lab_id),
  CONSTRAINT uk_cml_lab_records_record_id UNIQUE (record_id)
)`,
      'CREATE INDEX IF NOT EXISTS idx_cml_lab_records_lab_id ON cml_lab_records (lab_id)',
    ],
  },
  {
    name: 'cml_lab_history',
    columns: ['server_id', 'lab_id', 'seq', 'changed_at', 'previous_state', 'new_state', 'changed_fields'],
    mysql: `CREATE TABLE IF NOT EXISTS cml_lab_history (
  server_id VARCHAR(64) NOT NULL,
  lab_id VARCHAR(64) NOT NULL,
  seq INT NOT NULL,
  changed_at DATETIME(3) NOT NULL,
  previous_state VARCHAR(64) NULL,
  new_state VARCHAR(64) NOT NULL,
  changed_fields TEXT NOT NULL,
  PRIMARY KEY (server_id, lab_id, seq),
  CONSTRAINT fk_cml_lab_history_record FOREIGN KEY (server_id, lab_id) REFERENCES cml_lab_records (server_id, lab_id) ON DELETE CASCADE
)`,
    sqlite: [
      `CREATE TABLE IF NOT EXISTS cml_lab_history (
  server_id VARCHAR(64) NOT NULL,
  lab_id VARCHAR(64) NOT NULL,
  seq INTEGER NOT NULL,
  changed_at DATETIME NOT NULL,
  previous_state VARCHAR(64) NULL,
  new_state VARCHAR(64) NOT NULL,
  changed_fields TEXT NOT NULL,
  PRIMARY KEY (server_id, lab_id, seq),
  CONSTRAINT fk_cml_lab_history_record FOREIGN KEY (server_id, lab_id) REFERENCES cml_lab_records (server_id, lab_id) ON DELETE CASCADE
)`,
    ],
  },
];

export const CML_MIGRATION: Migration = {
  id: '0010_cml_labs',
  description: 'CML lab cache (cml_lab_records) and per-lab change history (cml_lab_history)',
  tables: CML_TABLES,
};
