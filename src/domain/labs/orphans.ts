// Orphan rules. Upstream hard-deleted every cached record missing from GET /labs, so a 404 or an empty
// answer wiped a controller's cache (NOTES §4, the latent bug). Here a lab is only marked orphaned, and
// only when the list call gave a trustworthy answer.

export type ListOutcome =
  | { kind: 'ok'; ids: readonly string[] }
  | { kind: 'failed'; reason: string }
  | { kind: 'not-found' };

export interface OrphanPlan {
  /** lab ids to mark orphaned now */
  orphan: string[];
  /** why no lab was marked, when marking was skipped */
  skipped?: string;
}

export function planOrphans(
  stored: readonly { labId: string; orphanedAt: string | null }[],
  list: ListOutcome,
  opts: { acceptEmptyList?: boolean } = {},
): OrphanPlan {
  if (list.kind === 'failed') return { orphan: [], skipped: `lab list failed (${list.reason}); orphan marking skipped` };
  if (list.kind === 'not-found') return { orphan: [], skipped: 'lab list returned 404; orphan marking skipped' };
  const live = stored.filter((r) => r.orphanedAt === null);
  if (list.ids.length === 0 && live.length > 0 && !opts.acceptEmptyList) {
    return { orphan: [], skipped: `controller returned an empty lab list while ${live.length} lab(s) are stored; orphan marking skipped` };
  }
  const seen = new Set(list.ids);
  return { orphan: live.filter((r) => !seen.has(r.labId)).map((r) => r.labId) };
}
