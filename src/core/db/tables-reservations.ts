// The orchestrator's claims: one row per reservation and phase (start|end), so that several labops
// instances never dispatch the same reservation twice. A claim is won by one conditional UPDATE (the
// affected-rows count says who won), held as a lease, and carries the retry backoff of failed attempts.
import type { Migration, TableDef } from './migrations.js';

const CLAIMS: TableDef = {
  name: 'labops_reservation_claims',
  columns: ['reservation_id', 'phase', 'claimed_by', 'claimed_at', 'lease_until', 'attempts', 'next_attempt_at', 'last_error', 'done_at', 'updated_at'],
  mysql: `CREATE TABLE IF NOT EXISTS labops_reservation_claims (
  reservation_id VARCHAR(128) NOT NULL,
  phase VARCHAR(16) NOT NULL,
  claimed_by VARCHAR(128) NULL,
  claimed_at DATETIME NULL,
  lease_until DATETIME NULL,
  attempts INT NOT NULL DEFAULT 0,
  next_attempt_at DATETIME NULL,
  last_error TEXT NULL,
  done_at DATETIME NULL,
  updated_at DATETIME NOT NULL,
  PRIMARY KEY (reservation_id, phase)
)`,
  sqlite: [
    `CREATE TABLE IF NOT EXISTS labops_reservation_claims (
  reservation_id VARCHAR(128) NOT NULL,
  phase VARCHAR(16) NOT NULL,
  claimed_by VARCHAR(128) NULL,
  claimed_at DATETIME NULL,
  lease_until DATETIME NULL,
  attempts INT NOT NULL DEFAULT 0,
  next_attempt_at DATETIME NULL,
  last_error TEXT NULL,
  done_at DATETIME NULL,
  updated_at DATETIME NOT NULL,
  PRIMARY KEY (reservation_id, phase)
)`,
  ],
};

export const RESERVATIONS_MIGRATION: Migration = {
  id: '0011_reservation_claims',
  description: 'reservation orchestrator claims (lease, attempts, backoff) per reservation and phase',
  tables: [CLAIMS],
};
