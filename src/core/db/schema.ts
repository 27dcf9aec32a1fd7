// Kysely's database type: every table labops declares (tables-*.ts), each row type derived from its
// declaration (table.ts RowOf). Names follow reference/ exactly.
import type { RowOf, RowsOf } from './table.js';
import type { LABOPS_MIGRATIONS, OPS_TABLES } from './tables-ops.js';
import type { HEARTBEAT_TABLES } from './tables-heartbeat.js';
import type { COLLECTOR_TABLES } from './tables-collector.js';
import type { CML_LAB_RECORDS, CML_TABLES } from './tables-cml.js';
import type { RESERVATION_TABLES } from './tables-reservations.js';
import type { DAEMON_TABLES } from './tables-daemon.js';

export interface DB
  extends RowsOf<typeof OPS_TABLES>,
    RowsOf<typeof HEARTBEAT_TABLES>,
    RowsOf<typeof COLLECTOR_TABLES>,
    RowsOf<typeof CML_TABLES>,
    RowsOf<typeof RESERVATION_TABLES>,
    RowsOf<typeof DAEMON_TABLES> {
  labops_migrations: RowOf<typeof LABOPS_MIGRATIONS>;
}

export type CmlLabRecordsTable = RowOf<typeof CML_LAB_RECORDS>;
