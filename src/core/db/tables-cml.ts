// labops' CML lab cache: one row per (server, lab) and a per-lab history ring (last 50 entries).
import { char, datetime, int, mediumtext, table, text, varchar, type Migration } from './table.js';

// lab_notes may be 32768 characters: MEDIUMTEXT, since TEXT holds 65535 bytes of utf8mb4. No index on
// last_synced_at (upstream has one that nothing reads): every sync rewrites that column on every row.
export const CML_LAB_RECORDS = table('cml_lab_records', {
  columns: {
    server_id: varchar(64).notNull(),
    lab_id: varchar(64).notNull(),
    record_id: char(36).notNull(),
    title: varchar(512).notNull(),
    description: text().notNull(),
    notes: mediumtext().notNull(),
    state: varchar(64).notNull(),
    owner: varchar(64),
    owner_username: varchar(128),
    owner_fullname: varchar(512),
    node_count: int().notNull().default(0),
    link_count: int().notNull().default(0),
    /** JSON array of LabGroup objects (the column is not called `groups`: a reserved word in MySQL 8) */
    groups_json: mediumtext().notNull(),
    /** JSON array or NULL when the controller does not send it */
    effective_permissions: text(),
    cml_created_at: datetime(3),
    modified_at: datetime(3),
    first_seen_at: datetime(3).notNull(),
    last_synced_at: datetime(3).notNull(),
    orphaned_at: datetime(3),
    history_seq: int().notNull().default(0),
    state_version: int().notNull().default(0),
  },
  primaryKey: ['server_id', 'lab_id'],
  unique: [{ name: 'uk_cml_lab_records_record_id', columns: ['record_id'] }],
  indexes: [{ name: 'idx_cml_lab_records_lab_id', columns: ['lab_id'] }],
});

export const CML_LAB_HISTORY = table('cml_lab_history', {
  columns: {
    server_id: varchar(64).notNull(),
    lab_id: varchar(64).notNull(),
    seq: int().notNull(),
    changed_at: datetime(3).notNull(),
    previous_state: varchar(64),
    new_state: varchar(64).notNull(),
    /** JSON object {field: {old, new}} */
    changed_fields: text().notNull(),
  },
  primaryKey: ['server_id', 'lab_id', 'seq'],
  foreignKeys: [
    { name: 'fk_cml_lab_history_record', columns: ['server_id', 'lab_id'], references: { table: 'cml_lab_records', columns: ['server_id', 'lab_id'] }, onDelete: 'CASCADE' },
  ],
});

export const CML_TABLES = [CML_LAB_RECORDS, CML_LAB_HISTORY] as const;

export const CML_MIGRATION: Migration = {
  id: '0010_cml_labs',
  description: 'CML lab cache (cml_lab_records) and per-lab change history (cml_lab_history)',
  tables: CML_TABLES,
};
