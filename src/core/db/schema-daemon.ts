// Kysely table types for the daemon's shard membership leases (tables-daemon.ts).
export interface LabopsInstancesTable {
  loop_name: string;
  instance_id: string;
  hostname: string;
  pid: number;
  started_at_ms: number;
  renewed_at_ms: number;
  expires_at_ms: number;
}

export interface DaemonTables {
  labops_instances: LabopsInstancesTable;
}
