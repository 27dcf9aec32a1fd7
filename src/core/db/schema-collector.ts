// Kysely types for the collector's tables (reference/cml/NOTES.md §2.1) and labops' session log/state.
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<string | Date | null, string | undefined | null, string | null>;
type Flag = ColumnType<number | null, number | boolean | undefined | null, number | boolean | null>;

export interface ServersTable {
  id: Generated<number>;
  hostname: string | null;
  ip_address: string | null;
  ssh_user: string | null;
  ssh_port: ColumnType<number | null, number | null | undefined, number | null>;
  ssh_password: string | null;
  enabled: Flag;
  added_on: Timestamp;
}

export interface LabsTable {
  id: Generated<number>;
  lab_name: string | null;
  server_id: number | null;
  provision_script_path: string | null;
  cleanup_script_path: string | null;
  duration_minutes: number | null;
  active: Flag;
  bastion_host: string | null;
  bastion_user: string | null;
  bastion_password: string | null;
}

export interface LabSessionsTable {
  id: Generated<number>;
  user_id: number | null;
  username: string | null;
  lab_id: number | null;
  namespace: string | null;
  access_start: Timestamp;
  access_expiry: Timestamp;
  status: string | null;
  session_token: string | null;
  plan: string | null;
  provisioned: Flag;
  created_at: Timestamp;
}

export interface ServerMetricsTable {
  id: Generated<number>;
  server_id: number;
  os_version: string | null;
  virtualization: string | null;
  uptime: string | null;
  sshd_status: string | null;
  reachable: Flag;
  cpu_usage: number | null;
  mem_usage: number | null;
  disk_usage: number | null;
  collected_at: Timestamp;
}

export interface AlertsTable {
  id: Generated<number>;
  server_id: number;
  alert_type: string | null;
  message: string | null;
  active: Flag;
  notified: Flag;
  created_at: Timestamp;
}

export interface LabopsSessionLogTable {
  id: Generated<number>;
  session_id: number;
  phase: string;
  outcome: string;
  exit_code: number | null;
  message: string | null;
  stdout: string | null;
  stderr: string | null;
  host: string | null;
  duration_ms: number | null;
  instance: string | null;
  created_at: Timestamp;
}

export interface LabopsSessionStateTable {
  session_id: number;
  phase: string;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: string | Date | null;
  last_error: string | null;
  claimed_by: string | null;
  claimed_at: string | Date | null;
  updated_at: Timestamp;
}

export interface CollectorDB {
  servers: ServersTable;
  labs: LabsTable;
  lab_sessions: LabSessionsTable;
  server_metrics: ServerMetricsTable;
  alerts: AlertsTable;
  labops_session_log: LabopsSessionLogTable;
  labops_session_state: LabopsSessionStateTable;
}
