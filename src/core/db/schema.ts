// Kysely table types for the tables labops reads and writes. Names follow reference/ exactly.
import type { ColumnType, Generated } from 'kysely';
import type { HeartbeatTables } from './schema-heartbeat.js';
import type { CollectorDB } from './schema-collector.js';
import type { CmlTables } from './schema-cml.js';
import type { ReservationTables } from './schema-reservations.js';
import type { DaemonTables } from './schema-daemon.js';

type Timestamp = ColumnType<string | Date, string | undefined, string>;

export interface LabHostsTable {
  id: Generated<number>;
  name: string;
  address: string;
  mac: string | null;
  mode: ColumnType<'pure' | 'hybrid' | null, 'pure' | 'hybrid' | undefined, 'pure' | 'hybrid'>;
  last_seen: ColumnType<string | Date | null, string | null | undefined, string | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface LabHostHeartbeatTable {
  id: Generated<number>;
  host_id: number;
  timestamp_utc: ColumnType<string | Date, string, string>;
  ready: number | boolean | null;
  local_mode: number | boolean | null;
  local_session: number | boolean | null;
  last_forced_logoff_ts: string | Date | null;
  last_forced_logoff_user: string | null;
  last_power_action_ts: string | Date | null;
  last_power_action_mode: string | null;
  raw_json: string;
  created_at: Timestamp;
}

export interface LabHostEventsTable {
  id: Generated<number>;
  host_id: number;
  kind: string;
  timestamp_utc: ColumnType<string | Date, string, string>;
  payload: unknown;
  created_at: Timestamp;
}

export interface ReservationOperationsTable {
  id: Generated<number>;
  reservation_id: string;
  lab_id: string | null;
  host: string;
  action: string;
  status: string;
  success: number | boolean;
  response_code: number | null;
  duration_ms: number | null;
  payload: unknown;
  message: string | null;
  created_at: Timestamp;
}

export interface LabopsMigrationsTable {
  id: string;
  applied_at: string;
}

export interface DB extends HeartbeatTables, CollectorDB, CmlTables, ReservationTables, DaemonTables {
  lab_hosts: LabHostsTable;
  lab_host_heartbeat: LabHostHeartbeatTable;
  lab_host_events: LabHostEventsTable;
  reservation_operations: ReservationOperationsTable;
  labops_migrations: LabopsMigrationsTable;
}
