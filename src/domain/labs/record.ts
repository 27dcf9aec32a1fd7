// LabRecord: the cached copy of one CML lab, keyed by (server, lab id). Mapping from the CML 2.9
// LabResponse, change detection, the 50-entry history ring and the lab events. Pure.
import { parseCmlTimestamp } from './timestamps.js';

export const MAX_HISTORY = 50;

/** The fields copied from CML (NOTES §3.4: lab_title→title, lab_description→description, …). */
export interface LabFields {
  title: string;
  description: string;
  notes: string;
  /** an open string: CML 2.9 knows DEFINED_ON_CORE/STOPPED/STARTED, others are stored as given */
  state: string;
  /** the owner's user id (uuid); ignored upstream, kept here */
  owner: string | null;
  ownerUsername: string | null;
  /** absent on older controllers */
  ownerFullname: string | null;
  nodeCount: number;
  linkCount: number;
  groups: unknown[];
  /** absent on older controllers */
  effectivePermissions: string[] | null;
  cmlCreatedAt: string | null;
  modifiedAt: string | null;
}

export interface LabRecord extends LabFields {
  serverId: string;
  labId: string;
  /** local uuid, the `id` of the lab_records document */
  recordId: string;
  firstSeenAt: string;
  lastSyncedAt: string;
  /** set when the lab vanished from a trustworthy lab list; cleared if it comes back */
  orphanedAt: string | null;
  /** sequence number of the newest history entry (0 = none) */
  historySeq: number;
  /** bumped on every stored change, like the upstream aggregate's state_version */
  stateVersion: number;
}

export interface HistoryEntry {
  seq: number;
  timestamp: string;
  previous_state: string | null;
  new_state: string;
  changed_fields: Record<string, { old: unknown; new: unknown }>;
}

/** What one lab detail said; a field is undefined when the controller omitted it. */
export type LabSnapshot = { labId: string } & { [K in keyof LabFields]?: LabFields[K] };

export type DetailParse = { ok: true; snapshot: LabSnapshot } | { ok: false; error: string };

// Field tables of parseLabDetail, built once (it runs for every lab of every sync).
const TEXT_FIELDS = [['lab_description', 'description'], ['lab_notes', 'notes']] as const;
const OWNER_FIELDS = [['owner', 'owner'], ['owner_username', 'ownerUsername'], ['owner_fullname', 'ownerFullname']] as const;
const COUNT_FIELDS = [['node_count', 'nodeCount'], ['link_count', 'linkCount']] as const;
const TIME_FIELDS = [['created', 'cmlCreatedAt'], ['modified', 'modifiedAt']] as const;

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Validates a `GET /labs/{id}` body. Required (LabResponse): lab_title, state. Everything else is optional
 * so older controllers (no owner_fullname, no effective_permissions) pass; a present field of the wrong
 * type fails the whole lab, so a bad body never overwrites a stored record with defaults.
 */
export function parseLabDetail(body: unknown, labId: string): DetailParse {
  if (!isObj(body)) return { ok: false, error: `lab ${labId}: detail is not a JSON object` };
  const bad = (field: string, want: string) => ({ ok: false as const, error: `lab ${labId}: ${field}: expected ${want}, got ${JSON.stringify(body[field])?.slice(0, 60)}` });
  if (body.id !== undefined && body.id !== labId) return bad('id', `the requested id ${labId}`);
  if (typeof body.lab_title !== 'string') return bad('lab_title', 'a string');
  if (typeof body.state !== 'string' || body.state === '') return bad('state', 'a non-empty string');
  const snap: LabSnapshot = { labId, title: body.lab_title, state: body.state };
  for (const [src, dst] of TEXT_FIELDS) {
    const v = body[src];
    if (v === undefined) continue;
    if (v !== null && typeof v !== 'string') return bad(src, 'a string');
    snap[dst] = v ?? '';
  }
  for (const [src, dst] of OWNER_FIELDS) {
    const v = body[src];
    if (v === undefined) continue;
    if (v !== null && typeof v !== 'string') return bad(src, 'a string');
    snap[dst] = v;
  }
  for (const [src, dst] of COUNT_FIELDS) {
    const v = body[src];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) return bad(src, 'a whole number ≥ 0');
    snap[dst] = v;
  }
  if (body.groups !== undefined) {
    if (body.groups !== null && !Array.isArray(body.groups)) return bad('groups', 'an array');
    snap.groups = (body.groups as unknown[] | null) ?? [];
  }
  if (body.effective_permissions !== undefined) {
    const v = body.effective_permissions;
    if (v !== null && (!Array.isArray(v) || v.some((p) => typeof p !== 'string'))) return bad('effective_permissions', 'an array of strings');
    snap.effectivePermissions = v as string[] | null;
  }
  for (const [src, dst] of TIME_FIELDS) {
    if (body[src] === undefined) continue;
    const p = parseCmlTimestamp(body[src]);
    if (!p.ok) return bad(src, 'an ISO-8601 date-time');
    snap[dst] = p.value;
  }
  return { ok: true, snapshot: snap };
}

const DEFAULTS: LabFields = {
  title: '',
  description: '',
  notes: '',
  state: 'UNKNOWN',
  owner: null,
  ownerUsername: null,
  ownerFullname: null,
  nodeCount: 0,
  linkCount: 0,
  groups: [],
  effectivePermissions: null,
  cmlCreatedAt: null,
  modifiedAt: null,
};
const FIELD_NAMES = Object.keys(DEFAULTS) as (keyof LabFields)[];

/** Fields whose change writes a history entry, with their names in the upstream document. */
const TRACKED = [
  ['title', 'title'],
  ['nodeCount', 'node_count'],
  ['linkCount', 'link_count'],
] as const;

export type LabEventType = 'created' | 'state_changed' | 'orphaned';

export interface LabEvent {
  event: LabEventType;
  server: string;
  lab_id: string;
  title: string;
  timestamp: string;
  state: string;
  previous_state?: string | null;
  changed_fields?: Record<string, { old: unknown; new: unknown }>;
}

export type SyncDecision =
  | { kind: 'created'; record: LabRecord; events: LabEvent[] }
  | { kind: 'updated'; record: LabRecord; history: HistoryEntry | null; changed: (keyof LabFields | 'orphanedAt')[]; events: LabEvent[] }
  | { kind: 'unchanged'; record: LabRecord };

/** Equal values; arrays of primitives (effective_permissions) compared without serialising, anything else as JSON. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x) => x === null || typeof x !== 'object')) {
    return a.every((x, i) => x === b[i]);
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A snapshot over the stored fields (or the defaults): what the controller omitted keeps its value. Spelled out, not looped over keys, as it runs for every lab of every sync. */
function mergeFields(base: LabFields, snap: LabSnapshot): LabFields {
  return {
    title: snap.title !== undefined ? snap.title : base.title,
    description: snap.description !== undefined ? snap.description : base.description,
    notes: snap.notes !== undefined ? snap.notes : base.notes,
    state: snap.state !== undefined ? snap.state : base.state,
    owner: snap.owner !== undefined ? snap.owner : base.owner,
    ownerUsername: snap.ownerUsername !== undefined ? snap.ownerUsername : base.ownerUsername,
    ownerFullname: snap.ownerFullname !== undefined ? snap.ownerFullname : base.ownerFullname,
    nodeCount: snap.nodeCount !== undefined ? snap.nodeCount : base.nodeCount,
    linkCount: snap.linkCount !== undefined ? snap.linkCount : base.linkCount,
    groups: snap.groups !== undefined ? snap.groups : base.groups,
    effectivePermissions: snap.effectivePermissions !== undefined ? snap.effectivePermissions : base.effectivePermissions,
    cmlCreatedAt: snap.cmlCreatedAt !== undefined ? snap.cmlCreatedAt : base.cmlCreatedAt,
    modifiedAt: snap.modifiedAt !== undefined ? snap.modifiedAt : base.modifiedAt,
  };
}

/**
 * Merges a snapshot into the stored record. Omitted fields keep their stored value (or the default on
 * first sight). Unlike upstream, which writes history only on a state change, any change of state,
 * title, node count or link count writes an entry, and only labs that really changed count as updated.
 */
export function applySnapshot(prev: LabRecord | undefined, snap: LabSnapshot, ctx: { serverId: string; now: string; newRecordId: () => string }): SyncDecision {
  const merged = mergeFields(prev ?? DEFAULTS, snap);
  if (!prev) {
    // Into the fresh merged object rather than `{ ...merged, serverId, … }`: on Node 20 a spread followed by new
    // keys costs ~20 µs per object, the largest share of a cold sync's own CPU (1 000 labs).
    const record: LabRecord = Object.assign(merged, {
      serverId: ctx.serverId,
      labId: snap.labId,
      recordId: ctx.newRecordId(),
      firstSeenAt: ctx.now,
      lastSyncedAt: ctx.now,
      orphanedAt: null,
      historySeq: 0,
      stateVersion: 0,
    });
    return { kind: 'created', record, events: [{ event: 'created', server: ctx.serverId, lab_id: snap.labId, title: record.title, timestamp: ctx.now, state: record.state }] };
  }
  const changed: (keyof LabFields | 'orphanedAt')[] = FIELD_NAMES.filter((k) => !same(prev[k], merged[k]));
  if (prev.orphanedAt !== null) changed.push('orphanedAt');
  if (changed.length === 0) return { kind: 'unchanged', record: { ...prev, lastSyncedAt: ctx.now } };
  const changedFields: Record<string, { old: unknown; new: unknown }> = {};
  for (const [k, name] of TRACKED) if (!same(prev[k], merged[k])) changedFields[name] = { old: prev[k], new: merged[k] };
  const stateChanged = prev.state !== merged.state;
  let history: HistoryEntry | null = null;
  if (stateChanged || Object.keys(changedFields).length) {
    history = { seq: prev.historySeq + 1, timestamp: ctx.now, previous_state: prev.state, new_state: merged.state, changed_fields: changedFields };
  }
  const record: LabRecord = {
    ...prev,
    ...merged,
    lastSyncedAt: ctx.now,
    orphanedAt: null,
    historySeq: history ? history.seq : prev.historySeq,
    stateVersion: prev.stateVersion + 1,
  };
  const events: LabEvent[] = stateChanged
    ? [{ event: 'state_changed', server: ctx.serverId, lab_id: record.labId, title: record.title, timestamp: ctx.now, state: record.state, previous_state: prev.state, changed_fields: changedFields }]
    : [];
  return { kind: 'updated', record, history, changed, events };
}

/** The ring buffer: appends and keeps the newest `max` entries (for in-memory lists and tests). */
export function pushHistory(entries: readonly HistoryEntry[], entry: HistoryEntry, max = MAX_HISTORY): HistoryEntry[] {
  const out = [...entries, entry];
  return out.length > max ? out.slice(out.length - max) : out;
}

/** Stored entries with seq ≤ this value fall out of the ring once entry `seq` exists. */
export function historyCutoff(seq: number, max = MAX_HISTORY): number {
  return seq - max;
}

export function orphanEvent(r: LabRecord, now: string): LabEvent {
  return { event: 'orphaned', server: r.serverId, lab_id: r.labId, title: r.title, timestamp: now, state: r.state };
}
