// Kysely types for tables-heartbeat.ts.
import type { ColumnType, Generated } from 'kysely';

type Dt = ColumnType<string, string, string>;
type DtNull = ColumnType<string | null, string | null | undefined, string | null>;

export interface LabReservationsTable {
  id: Generated<number>;
  transaction_hash: string;
  lab_id: string | null;
  wallet_address: ColumnType<string | null, string | null | undefined, string | null>;
  start_time: DtNull;
  end_time: DtNull;
  status: ColumnType<string, string | undefined, string>;
  created_at: ColumnType<string, string | undefined, string>;
  updated_at: ColumnType<string, string | undefined, string>;
}

export interface ReservationForcedLogoffsTable {
  id: Generated<number>;
  reservation_id: string | null;
  lab_id: string | null;
  host: string;
  event_id: number | null;
  timestamp_utc: Dt;
  user: string | null;
  session_id: string | null;
  grace: number | null;
  message: string | null;
  force_logoff: number | boolean | null;
  created_at: ColumnType<string, string | undefined, string>;
}

export interface LabopsAlertsTable {
  id: Generated<number>;
  host: string;
  rule: string;
  open_key: string | null;
  state: string;
  message: string;
  details: unknown;
  opened_at: Dt;
  last_seen_at: Dt;
  resolved_at: DtNull;
}

export interface LabopsHostPollStateTable {
  host_id: number;
  last_poll_at: DtNull;
  last_change_at: DtNull;
  last_heartbeat_ts: DtNull;
  last_error: string | null;
  last_error_at: DtNull;
  consecutive_failures: ColumnType<number, number | undefined, number>;
  reported_host: string | null;
}

export interface HeartbeatTables {
  lab_reservations: LabReservationsTable;
  reservation_forced_logoffs: ReservationForcedLogoffsTable;
  labops_alerts: LabopsAlertsTable;
  labops_host_poll_state: LabopsHostPollStateTable;
}
