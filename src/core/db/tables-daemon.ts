// labops' own table for `labops daemon`: one row per (loop, instance) with an expiry, renewed by the
// instance every lease/3. The live rows of a loop are its shard members (src/ops/daemon/membership.ts).
// Times are epoch milliseconds from the database server's clock, so instance clock skew does not matter.
import { bigint, int, table, varchar, type Migration } from './table.js';

export const LABOPS_INSTANCES = table('labops_instances', {
  columns: {
    loop_name: varchar(64).notNull(),
    instance_id: varchar(191).notNull(),
    hostname: varchar(255).notNull(),
    pid: int().notNull(),
    started_at_ms: bigint().notNull(),
    renewed_at_ms: bigint().notNull(),
    expires_at_ms: bigint().notNull(),
  },
  primaryKey: ['loop_name', 'instance_id'],
  indexes: [{ name: 'idx_labops_instances_expires', columns: ['expires_at_ms'] }],
});

export const DAEMON_TABLES = [LABOPS_INSTANCES] as const;

export const DAEMON_MIGRATION: Migration = {
  id: '0012_daemon_instances',
  description: 'labops daemon: shard membership leases (labops_instances)',
  tables: DAEMON_TABLES,
};
