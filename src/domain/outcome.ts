// The one exit rule for anything that runs on several targets (hosts, sessions, servers, labs): every target's
// outcome folds into one. A target that failed in one way and another that failed in another is not "partial":
// partial means at least one target succeeded.
import type { ErrorKind } from './errors.js';

/** What happened to one target: success, or the kind of failure (the exit table's kinds). */
export type Outcome = 'ok' | Exclude<ErrorKind, 'partial'>;

/** All ok: ok. At least one ok and one not: partial. Else the kind the failures share, or failed when they differ. */
export function combineOutcomes(outcomes: readonly Outcome[]): Outcome | 'partial' {
  const bad = outcomes.filter((c) => c !== 'ok');
  if (bad.length === 0) return 'ok';
  if (bad.length < outcomes.length) return 'partial';
  const first = bad[0]!;
  return bad.every((c) => c === first) ? first : 'failed';
}
