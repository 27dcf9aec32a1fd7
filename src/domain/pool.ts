// Bounded concurrency: run `fn` over items with at most `limit` in flight, results in input order.

export async function mapPool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      if (signal?.aborted) return;
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return results;
}

/** At most `limit` calls of `run` in flight at once; the rest wait in order. */
export function limiter(limit: number): { run<R>(fn: () => Promise<R>): Promise<R> } {
  let active = 0;
  const waiting: (() => void)[] = [];
  return {
    async run<R>(fn: () => Promise<R>): Promise<R> {
      if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
      else active++;
      try {
        return await fn();
      } finally {
        const next = waiting.shift();
        if (next) next();
        else active--;
      }
    },
  };
}
