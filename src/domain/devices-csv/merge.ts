// Delta file and merge into the master devices.csv, per the worker (NOTES §2.4 step 7, §4.3, §4.4),
// with labops' documented fixes:
//  1. a delta row with an empty role does not wipe the master's role (the API never sends one);
//  2. a delta row that conflicts with another host (same MAC, IP or hostname) is not written: the
//     master keeps its old row (or the new host is not appended) and the conflict is reported.
import { countRows, hostKey, newRow, type CsvLine, type DevicesFile } from './parse.js';
import { normalizeMac } from './validate.js';

/** room, hostname, config, MAC, IP, role, pxe flag */
export const MANAGED_COLS = [0, 1, 2, 3, 4, 8, 10] as const;
export const ROLE_COL = 8;
export const DELTA_HEADER = '# managed-by: linbo-docker — DO NOT EDIT MANUALLY';

export type DeltaAction = 'create' | 'update' | 'delete';

export interface DeltaJob {
  action: DeltaAction;
  hostname: string;
  /** rename: the previous name (update only) */
  oldHostname?: string;
  mac?: string;
  ip?: string;
  room?: string;
  config?: string;
  role?: string;
  pxe?: string | number;
}

/** The worker's 15-field delta row (`_format_csv_line`). */
export function formatDeltaFields(job: DeltaJob): string[] {
  return [
    job.room ?? '',
    job.hostname,
    job.config || 'nopxe',
    (job.mac ?? '').toUpperCase(),
    job.ip || 'DHCP',
    '',
    '',
    '',
    job.role ?? '',
    '',
    String(job.pxe ?? 1),
    '',
    '',
    '',
    '',
  ];
}

export function emptyDelta(): DevicesFile {
  return { lines: [{ lineNo: 0, kind: 'comment', text: DELTA_HEADER, cr: false, fields: [], dirty: false }], finalNewline: true };
}

/**
 * Applies one job to the delta in place; `deleted` collects lowercase names whose master rows must go.
 */
export function applyDeltaJob(delta: DevicesFile, job: DeltaJob, deleted: Set<string>): void {
  const name = job.hostname.trim().toLowerCase();
  const drop = (key: string) => {
    delta.lines = delta.lines.filter((l) => l.kind !== 'row' || hostKey(l.fields) !== key);
  };
  if (job.action === 'delete') {
    drop(name);
    deleted.add(name);
    return;
  }
  if (job.oldHostname && job.oldHostname.trim().toLowerCase() !== name) {
    const old = job.oldHostname.trim().toLowerCase();
    drop(old);
    deleted.add(old);
  }
  deleted.delete(name);
  const row = newRow(formatDeltaFields(job));
  const at = delta.lines.findIndex((l) => l.kind === 'row' && hostKey(l.fields) === name);
  if (at >= 0) delta.lines[at] = row;
  else delta.lines.push(row);
  delta.finalNewline = true;
}

export interface MergeStats {
  total_master_lines: number;
  total_delta_lines: number;
  total_merged_lines: number;
  deleted_hosts: string[];
  batch_size: number;
}

export interface MergeConflict {
  hostname: string;
  kind: 'mac' | 'ip' | 'hostname';
  value: string;
  /** the host that already has it */
  with: string;
  /** worker-compatible message */
  message: string;
}

export interface MergeChange {
  hostname: string;
  change: 'updated' | 'appended' | 'deleted';
  /** master line number of an updated or deleted row */
  line?: number;
}

export interface MergeResult {
  file: DevicesFile;
  stats: MergeStats;
  conflicts: MergeConflict[];
  changes: MergeChange[];
}

export interface MergeOptions {
  batchSize?: number;
  /** labops fix 1 (default true); false reproduces the worker */
  keepRoleWhenDeltaEmpty?: boolean;
  /** labops fix 2 (default true); false reproduces the worker (conflicting rows written) */
  dropConflicts?: boolean;
}

export function mergeDevices(master: DevicesFile, delta: DevicesFile, deleted: ReadonlySet<string>, opts: MergeOptions = {}): MergeResult {
  const deltaRows = new Map<string, string[]>();
  for (const l of delta.lines) if (l.kind === 'row' && l.fields.length >= 2) deltaRows.set(hostKey(l.fields), l.fields);
  const merged: MergedLines = { out: [], fromDelta: [], changes: [] };
  const matched = updateMaster(merged, master, deltaRows, deleted, opts.keepRoleWhenDeltaEmpty ?? true);
  appendNewHosts(merged, master, deltaRows, (key) => matched.has(key) || deleted.has(key));
  const conflicts = findConflicts(merged.out, merged.fromDelta);
  if ((opts.dropConflicts ?? true) && conflicts.rejected.size) dropRejected(merged, conflicts.rejected);
  const file: DevicesFile = { lines: merged.out, finalNewline: true };
  return {
    file,
    conflicts: conflicts.list,
    changes: merged.changes,
    stats: {
      total_master_lines: countRows(master),
      total_delta_lines: countRows(delta),
      total_merged_lines: countRows(file),
      deleted_hosts: [...deleted].sort(),
      batch_size: opts.batchSize ?? 1,
    },
  };
}

interface MergedLines {
  out: CsvLine[];
  /** the rows the delta wrote, with the master row an update replaced */
  fromDelta: { line: CsvLine; original?: CsvLine }[];
  changes: MergeChange[];
}

/** The master's lines, deleted hosts left out and the delta's rows applied in place; returns the hosts it updated. */
function updateMaster(merged: MergedLines, master: DevicesFile, deltaRows: ReadonlyMap<string, string[]>, deleted: ReadonlySet<string>, keepRole: boolean): Set<string> {
  const { out, fromDelta, changes } = merged;
  const matched = new Set<string>();
  for (const l of master.lines) {
    if (l.kind !== 'row' || l.fields.length < 2) {
      out.push(l);
      continue;
    }
    const key = hostKey(l.fields);
    if (deleted.has(key)) {
      changes.push({ hostname: key, change: 'deleted', line: l.lineNo });
      continue;
    }
    const d = deltaRows.get(key);
    if (!d) {
      out.push(l);
      continue;
    }
    matched.add(key);
    const line = updatedRow(l, d, keepRole);
    out.push(line);
    if (line !== l) {
      fromDelta.push({ line, original: l });
      changes.push({ hostname: key, change: 'updated', line: l.lineNo });
    }
  }
  return matched;
}

/** The delta's other hosts at the end, padded to the master's widest row (at least 5 fields), with its line ending. */
function appendNewHosts(merged: MergedLines, master: DevicesFile, deltaRows: ReadonlyMap<string, string[]>, skip: (key: string) => boolean): void {
  let maxFields = 0;
  for (const l of master.lines) if (l.kind === 'row' && l.fields.length > maxFields) maxFields = l.fields.length;
  const width = Math.max(maxFields, 5);
  const cr = master.lines.find((l) => l.kind !== 'blank')?.cr ?? false;
  for (const [key, d] of deltaRows) {
    if (skip(key)) continue;
    const fields = d.slice();
    while (fields.length < width) fields.push('');
    const line = newRow(fields, cr);
    merged.out.push(line);
    merged.fromDelta.push({ line });
    merged.changes.push({ hostname: key, change: 'appended' });
  }
}

/** A master row with the delta's managed columns written over it; the row itself when nothing changes. */
function updatedRow(l: CsvLine, d: readonly string[], keepRole: boolean): CsvLine {
  const fields = l.fields.slice();
  while (fields.length < d.length) fields.push('');
  for (const c of MANAGED_COLS) {
    if (c >= d.length) continue;
    if (c === ROLE_COL && keepRole && d[c] === '') continue;
    fields[c] = d[c]!;
  }
  const same = fields.length === l.fields.length && fields.every((v, i) => v === l.fields[i]);
  return same ? l : { lineNo: l.lineNo, kind: 'row', text: l.text, cr: l.cr, fields, dirty: true };
}

/** Labops fix 2: a rejected update keeps the master's row, a rejected new host is left out, and neither is a change. */
function dropRejected({ out, fromDelta, changes }: MergedLines, rejected: ReadonlySet<CsvLine>): void {
  for (let i = 0; i < out.length; i++) {
    const l = out[i]!;
    if (!rejected.has(l)) continue;
    const orig = fromDelta.find((x) => x.line === l)?.original;
    if (orig) out[i] = orig;
    else out.splice(i--, 1);
  }
  const rejectedNames = new Set([...rejected].map((l) => hostKey(l.fields)));
  for (let i = changes.length - 1; i >= 0; i--) if (changes[i]!.change !== 'deleted' && rejectedNames.has(changes[i]!.hostname)) changes.splice(i, 1);
}

/**
 * Checks every row that came from the delta against all other rows. A rejected update keeps the master's old row,
 * whose MAC and IP then stay taken: the check runs again with those rows in place until no further row is
 * rejected (each round rejects more, so it ends), and no accepted row can take what a kept old row still has.
 */
function findConflicts(out: CsvLine[], fromDelta: readonly { line: CsvLine; original?: CsvLine }[]): { list: MergeConflict[]; rejected: Set<CsvLine> } {
  const rejected = new Set<CsvLine>();
  const list: MergeConflict[] = [];
  for (;;) {
    const round = checkDeltaRows(out, fromDelta, rejected);
    list.push(...round.list);
    if (round.rejected.length === 0) return { list, rejected };
    for (const l of round.rejected) rejected.add(l);
  }
}

/** One pass: the rows not from the delta and the kept old rows of rejected updates first, then each delta row in order. */
function checkDeltaRows(out: CsvLine[], fromDelta: readonly { line: CsvLine; original?: CsvLine }[], rejected: ReadonlySet<CsvLine>): { list: MergeConflict[]; rejected: CsvLine[] } {
  const mine = new Set(fromDelta.map((x) => x.line));
  const macs = new Map<string, string>();
  const ips = new Map<string, string>();
  const names = new Map<string, string>();
  const index = (l: CsvLine) => {
    const name = (l.fields[1] ?? '').trim();
    const mac = normalizeMac(l.fields[3] ?? '');
    const ip = (l.fields[4] ?? '').trim();
    if (mac && !macs.has(mac)) macs.set(mac, name);
    if (ip && ip !== 'DHCP' && !ips.has(ip)) ips.set(ip, name);
    if (name && !names.has(name.toLowerCase())) names.set(name.toLowerCase(), name);
  };
  for (const l of out) if (l.kind === 'row' && l.fields.length >= 2 && !mine.has(l)) index(l);
  for (const x of fromDelta) if (rejected.has(x.line) && x.original) index(x.original);
  const list: MergeConflict[] = [];
  const found: CsvLine[] = [];
  for (const { line } of fromDelta) {
    if (rejected.has(line)) continue;
    const conflicts = conflictsOf(line, macs, ips, names);
    if (conflicts.length) {
      list.push(...conflicts);
      found.push(line);
    } else index(line);
  }
  return { list, rejected: found };
}

function conflictsOf(line: CsvLine, macs: ReadonlyMap<string, string>, ips: ReadonlyMap<string, string>, names: ReadonlyMap<string, string>): MergeConflict[] {
  const name = (line.fields[1] ?? '').trim();
  const mac = normalizeMac(line.fields[3] ?? '');
  const ip = (line.fields[4] ?? '').trim();
  const found: MergeConflict[] = [];
  const other = names.get(name.toLowerCase());
  if (other !== undefined) found.push({ hostname: name, kind: 'hostname', value: name, with: other, message: `Conflict: Duplicate hostname ${name}` });
  const macWith = mac ? macs.get(mac) : undefined;
  if (macWith !== undefined) found.push({ hostname: name, kind: 'mac', value: mac, with: macWith, message: `Conflict: Duplicate MAC ${mac} with host ${macWith}` });
  const ipWith = ip && ip !== 'DHCP' ? ips.get(ip) : undefined;
  if (ipWith !== undefined) found.push({ hostname: name, kind: 'ip', value: ip, with: ipWith, message: `Conflict: Duplicate IP ${ip} with host ${ipWith}` });
  return found;
}
