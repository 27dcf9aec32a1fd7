// The two output shapes of CML Cloud Manager: its REST API's cached-lab object and the MongoDB
// `lab_records` document. Missing owner names render as the upstream defaults ("Unknown"/"unknown"),
// because Cloud Manager consumers expect strings there; the store itself keeps null.
import { MAX_HISTORY, type HistoryEntry, type LabRecord } from './record.js';
import { pythonIso } from './timestamps.js';

export interface CloudManagerLab {
  id: string;
  title: string;
  description: string;
  notes: string;
  state: string;
  owner: string;
  owner_username: string;
  node_count: number;
  link_count: number;
  created: string | null;
  modified: string | null;
  groups: unknown[];
  last_synced: string | null;
}

export function toCloudManagerLab(r: LabRecord): CloudManagerLab {
  return {
    id: r.labId,
    title: r.title,
    description: r.description,
    notes: r.notes,
    state: r.state,
    owner: r.ownerFullname ?? 'Unknown',
    owner_username: r.ownerUsername ?? 'unknown',
    node_count: r.nodeCount,
    link_count: r.linkCount,
    created: pythonIso(r.cmlCreatedAt),
    modified: pythonIso(r.modifiedAt),
    groups: r.groups,
    last_synced: pythonIso(r.lastSyncedAt),
  };
}

export interface LabRecordDocument {
  id: string;
  worker_id: string;
  lab_id: string;
  title: string;
  description: string;
  notes: string;
  state: string;
  owner_username: string;
  owner_fullname: string;
  node_count: number;
  link_count: number;
  groups: unknown[];
  cml_created_at: string | null;
  modified_at: string | null;
  last_synced_at: string | null;
  first_seen_at: string | null;
  operation_history: Omit<HistoryEntry, 'seq'>[];
  max_history_size: number;
  state_version: number;
  /** labops addition, present only on orphaned records (upstream deleted them) */
  orphaned_at?: string | null;
}

/** `history` oldest first, as upstream appends. */
export function toLabRecordDocument(r: LabRecord, history: readonly HistoryEntry[]): LabRecordDocument {
  const doc: LabRecordDocument = {
    id: r.recordId,
    worker_id: r.serverId,
    lab_id: r.labId,
    title: r.title,
    description: r.description,
    notes: r.notes,
    state: r.state,
    owner_username: r.ownerUsername ?? 'unknown',
    owner_fullname: r.ownerFullname ?? 'Unknown',
    node_count: r.nodeCount,
    link_count: r.linkCount,
    groups: r.groups,
    cml_created_at: pythonIso(r.cmlCreatedAt),
    modified_at: pythonIso(r.modifiedAt),
    last_synced_at: pythonIso(r.lastSyncedAt),
    first_seen_at: pythonIso(r.firstSeenAt),
    operation_history: history.map((h) => ({ timestamp: pythonIso(h.timestamp)!, previous_state: h.previous_state, new_state: h.new_state, changed_fields: h.changed_fields })),
    max_history_size: MAX_HISTORY,
    state_version: r.stateVersion,
  };
  if (r.orphanedAt) doc.orphaned_at = pythonIso(r.orphanedAt);
  return doc;
}
