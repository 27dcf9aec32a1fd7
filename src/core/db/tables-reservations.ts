// The orchestrator's claims: one row per reservation and phase (start|end), so that several labops
// instances never dispatch the same reservation twice. A claim is won by one conditional UPDATE (the
// affected-rows count says who won), held as a lease, and carries the retry backoff of failed attempts.
import { datetime, int, table, text, varchar, type Migration } from './table.js';

export const LABOPS_RESERVATION_CLAIMS = table('labops_reservation_claims', {
  columns: {
    reservation_id: varchar(128).notNull(),
    phase: varchar(16).notNull(),
    claimed_by: varchar(128),
    claimed_at: datetime(),
    lease_until: datetime(),
    attempts: int().notNull().default(0),
    next_attempt_at: datetime(),
    last_error: text(),
    done_at: datetime(),
    updated_at: datetime().notNull(),
  },
  primaryKey: ['reservation_id', 'phase'],
});

export const RESERVATION_TABLES = [LABOPS_RESERVATION_CLAIMS] as const;

export const RESERVATIONS_MIGRATION: Migration = {
  id: '0011_reservation_claims',
  description: 'reservation orchestrator claims (lease, attempts, backoff) per reservation and phase',
  tables: RESERVATION_TABLES,
};
