// Pure scheduling and sharding rules of `labops daemon`: jittered intervals and rendezvous (highest random
// weight) hashing of hosts, servers and CML controllers over the live instances of a loop.

/** The pause before the next run: `intervalMs` scaled by a random factor in [1 - jitter, 1 + jitter]. */
export function jitteredInterval(intervalMs: number, jitter: number, random: number): number {
  const j = Math.min(Math.max(jitter, 0), 0.5);
  return Math.max(0, Math.round(intervalMs * (1 + j * (random * 2 - 1))));
}

/**
 * How long to wait after a run that started at `startedAt` and ended at `endedAt` (fixed rate, never
 * overlapping): the next run starts one jittered interval after the previous start, or at once when the
 * run itself took longer than that.
 */
export function delayUntilNextRun(startedAt: number, endedAt: number, jitteredMs: number): number {
  return Math.max(0, startedAt + jitteredMs - endedAt);
}

// FNV-1a (32 bit): a stable, dependency-free string hash; only needs to spread keys evenly.
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // one avalanche round (murmur3 finaliser) so near-identical keys land on different instances
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The member that owns `key`: the one with the highest hash of (member, key). Every instance computes the
 * same answer from the same member list, and when a member leaves only its keys move.
 */
export function shardOwner(key: string, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const m of members) {
    const score = fnv1a(`${m}\u0000${key}`);
    if (score > bestScore || (score === bestScore && best !== undefined && m < best)) {
      best = m;
      bestScore = score;
    }
  }
  return best;
}

/** The items of `items` that `me` owns among `members` (all of them when `me` is the only member). */
export function shareOf<T>(items: readonly T[], key: (item: T) => string, members: readonly string[], me: string): T[] {
  if (members.length === 0 || (members.length === 1 && members[0] === me)) return [...items];
  return items.filter((i) => shardOwner(key(i), members) === me);
}

/** Restart delay of a long-running loop that failed `failures` times in a row: 1 s doubling to 60 s. */
export function restartDelayMs(failures: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.max(0, failures - 1));
}
