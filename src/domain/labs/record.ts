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

export type DetailParse = { ok: true; snapshot: LabSnapshot; warnings: string[] } | { ok: false; error: string };

// Field tables of parseLabDetail, built once (it runs for every lab of every sync).
const TEXT_FIELDS = [['lab_description', 'description'], ['lab_notes', 'notes']] as const;
const OWNER_FIELDS = [['owner', 'owner'], ['owner_username', 'ownerUsername'], ['owner_fullname', 'ownerFullname']] as const;
const COUNT_FIELDS = [['node_count', 'nodeCount'], ['link_count', 'linkCount']] as const;
const TIME_FIELDS = [['created', 'cmlCreatedAt'], ['modified', 'modifiedAt']] as const;

/** Upstream's defaults for a lab without a title or state (CML Cloud Manager's `data.get(…, default)`). */
export const UNTITLED_LAB = 'Untitled Lab';
export const UNKNOWN_STATE = 'UNKNOWN';

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A whole number ≥ 0, also as a numeric string (`"7"`), as upstream's Python int() reads it; else undefined. */
function count(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * Reads a `GET /labs/{id}` body the way upstream keeps labs: only a body that is not a lab (not an object, or
 * another lab's id) is rejected. A missing title or state gets upstream's default ("Untitled Lab", "UNKNOWN"),
 * a `created`/`modified` that does not parse becomes null, a numeric string count a number; any other field of
 * the wrong type is left out, so the stored value stays. Each such repair is a warning naming the field.
 */
export function parseLabDetail(body: unknown, labId: string): DetailParse {
  if (!isObj(body)) return { ok: false, error: `lab ${labId}: detail is not a JSON object` };
  if (body.id !== undefined && body.id !== labId) {
    return { ok: false, error: `lab ${labId}: id: expected the requested id ${labId}, got ${JSON.stringify(body.id)?.slice(0, 60)}` };
  }
  const warnings: string[] = [];
  const got = (field: string) => JSON.stringify(body[field])?.slice(0, 60) ?? 'nothing';
  const warn = (field: string, want: string, did: string) => warnings.push(`lab ${labId}: ${field}: expected ${want}, got ${got(field)}; ${did}`);
  let title = body.lab_title;
  if (typeof title === 'number') title = String(title);
  if (typeof title !== 'string') {
    warn('lab_title', 'a string', `stored as "${UNTITLED_LAB}"`);
    title = UNTITLED_LAB;
  }
  let state = body.state;
  if (typeof state !== 'string' || state === '') {
    warn('state', 'a non-empty string', `stored as ${UNKNOWN_STATE}`);
    state = UNKNOWN_STATE;
  }
  const snap: LabSnapshot = { labId, title: title as string, state: state as string };
  const keep = 'the stored value kept';
  for (const [src, dst] of TEXT_FIELDS) {
    const v = body[src];
    if (v === undefined) continue;
    if (v !== null && typeof v !== 'string') warn(src, 'a string', keep);
    else snap[dst] = v ?? '';
  }
  for (const [src, dst] of OWNER_FIELDS) {
    const v = body[src];
    if (v === undefined) continue;
    if (v !== null && typeof v !== 'string') warn(src, 'a string', keep);
    else snap[dst] = v;
  }
  for (const [src, dst] of COUNT_FIELDS) {
    const v = body[src];
    if (v === undefined) continue;
    const n = count(v);
    if (n === undefined) warn(src, 'a whole number ≥ 0', keep);
    else snap[dst] = n;
  }
  if (body.groups !== undefined) {
    if (body.groups !== null && !Array.isArray(body.groups)) warn('groups', 'an array', keep);
    else snap.groups = (body.groups as unknown[] | null) ?? [];
  }
  if (body.effective_permissions !== undefined) {
    const v = body.effective_permissions;
    if (v !== null && (!Array.isArray(v) || v.some((p) => typeof p !== 'string'))) warn('effective_permissions', 'an array of strings', keep);
    else snap.effectivePermissions = v as string[] | null;
  }
  for (const [src, dst] of TIME_FIELDS) {
    if (body[src] === undefined) continue;
    const p = parseCmlTimestamp(body[src]);
    if (p.ok) snap[dst] = p.value;
    else {
      warn(src, 'an ISO-8601 date-time', 'stored as null');
      snap[dst] = null;
    }
  }
  return { ok: true, snapshot: snap, warnings };
}

const DEFAULTS: LabFields = {
  title: '',
  description: '',
  notes: '',
  state: UNKNOWN_STATE,
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
