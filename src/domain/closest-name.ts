// The closest known name to a misspelt one, for "did you mean" hints on unknown hosts, servers and keys.

/** The closest of `known` to `name` (edit distance, ignoring case), when it is close enough to be a likely typo. */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  const want = name.toLowerCase();
  let best: { name: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(want, k.toLowerCase());
    if (!best || d < best.d) best = { name: k, d };
  }
  return best && best.d <= Math.max(2, Math.floor(name.length / 4)) ? best.name : undefined;
}

/** " (did you mean 'x'?)" for a message, or '' when nothing is close. */
export function didYouMean(name: string, known: Iterable<string>): string {
  const near = closestName(name, known);
  return near === undefined ? '' : ` (did you mean '${near}'?)`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[b.length]!;
}

/** A few of the known names for a hint: "a, b, c and 7 more", or "none" when nothing is known. */
export function someNames(known: readonly string[], max = 5): string {
  if (known.length === 0) return 'none';
  const shown = known.slice(0, max).join(', ');
  return known.length > max ? `${shown} and ${known.length - max} more` : shown;
}
