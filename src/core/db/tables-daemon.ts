// labops' own table for `labops daemon`: one row per (loop, instance) with an expiry, renewed by the
// instance every lease/3. The live rows of a loop are its shard members (src/ops/daemon/membership.ts).
// Times are epoch milliseconds from the database server's clock, so instance clock skew does not matter.
import type { Migration } from './migrations.js';

export const DAEMON_MIGRATION: Migration = {
  id: '0012_daemon_instances',
  description: 'labops daemon: shard membership leases (labops_instances)',
  tables: [
    {
      name: 'labops_instances',
      columns: ['loop_name', 'instance_id', 'hostname', 'pid', 'started_at_ms', 'renewed_at_ms', 'expires_at_ms'],
      mysql: `CREATE TABLE IF NOT EXISTS labops_instances (
  loop_name VARCHAR(64) NOT NULL,
  instance_id VARCHAR(191) NOT NULL,
  hostname VARCHAR(255) NOT NULL,
  pid INT NOT NULL,
  started_at_ms BIGINT NOT NULL,
  renewed_at_ms BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  PRIMARY KEY (loop_name, instance_id),
  KEY idx_labops_instances_expires (expires_at_ms)
)`,
      sqlite: [
        `CREATE TABLE IF NOT EXISTS labops_instances (
  loop_name VARCHAR(64) NOT NULL,
  instance_id VARCHAR(191) NOT NULL,
  hostname VARCHAR(255) NOT NULL,
  pid INTEGER NOT NULL,
  started_at_ms INTEGER NOT NULL,
  renewed_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  PRIMARY KEY (loop_name, instance_id)
)`,
        'CREATE INDEX IF NOT EXISTS idx_labops_instances_expires ON labops_instances (expires_at_ms)',
      ],
    },
  ],
};
