// Kysely types for tables-reservations.ts.
import type { ColumnType } from 'kysely';

type DtNull = ColumnType<string | null, string | null | undefined, string | null>;

export interface LabopsReservationClaimsTable {
  reservation_id: string;
  phase: string;
  claimed_by: string | null;
  claimed_at: DtNull;
  lease_until: DtNull;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: DtNull;
  last_error: string | null;
  done_at: DtNull;
  updated_at: ColumnType<string, string, string>;
}

export interface ReservationTables {
  labops_reservation_claims: LabopsReservationClaimsTable;
}
