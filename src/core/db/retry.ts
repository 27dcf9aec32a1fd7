// Transactions the database asks us to restart: InnoDB deadlocks and lock wait timeouts, SQLite busy (and its
// BUSY_SNAPSHOT: in WAL mode a transaction that read first cannot write once another one committed meanwhile).

export function isRetryableTxError(e: unknown): boolean {
  const err = e as { errno?: number; code?: string };
  return err?.errno === 1213 || err?.errno === 1205 || err?.code === 'ER_LOCK_DEADLOCK' || err?.code === 'ER_LOCK_WAIT_TIMEOUT' || err?.code === 'SQLITE_BUSY' || err?.code === 'SQLITE_BUSY_SNAPSHOT';
}

/** Runs a transaction, restarting it a few times when the database reports a deadlock. */
export async function withTxRetry<T>(fn: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= attempts || !isRetryableTxError(e)) throw e;
      await new Promise((r) => setTimeout(r, 10 * i + Math.random() * 20));
    }
  }
}
