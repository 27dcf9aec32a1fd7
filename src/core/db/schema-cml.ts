// Kysely table types for labops' own CML tables (the SQL home of Cloud Manager's `lab_records`).
import type { ColumnType } from 'kysely';

type Time = ColumnType<string | Date, string, string>;
type NullableTime = ColumnType<string | Date | null, string | null | undefined, string | null>;

export interface CmlLabRecordsTable {
  server_id: string;
  lab_id: string;
  record_id: string;
  title: string;
  description: string;
  notes: string;
  state: string;
  owner: string | null;
  owner_username: string | null;
  owner_fullname: string | null;
  node_count: number;
  link_count: number;
  /** JSON array of LabGroup objects (the column is not called `groups`: a reserved word in MySQL 8) */
  groups_json: string;
  /** JSON array or NULL when the controller does not send it */
  effective_permissions: string | null;
  cml_created_at: NullableTime;
  modified_at: NullableTime;
  first_seen_at: Time;
  last_synced_at: Time;
  orphaned_at: NullableTime;
  history_seq: number;
  state_version: number;
}

export interface CmlLabHistoryTable {
  server_id: string;
  lab_id: string;
  seq: number;
  changed_at: Time;
  previous_state: string | null;
  new_state: string;
  /** JSON object {field: {old, new}} */
  changed_fields: string;
}

export interface CmlTables {
  cml_lab_records: CmlLabRecordsTable;
  cml_lab_history: CmlLabHistoryTable;
}
