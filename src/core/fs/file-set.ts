// Files that change together or not at all (devices.csv and its LINBO Docker delta): each is replaced atomically,
// and a journal beside the first one says, while they are replaced, where the old set is. A run killed at any
// point leaves either the old set, the new set, or a journal; the next run under the same lock rolls a journal
// back (recoverFileSet), so every file is old again and the same command can simply run once more.
//
// The journal names the one backup generation (`<file>.bak`) of each file with its SHA-256, or says the file did
// not exist. It is written after the backups are complete and removed after the last file is in place.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { OperationFailed } from '../../domain/errors.js';
import { backupFile, fsyncDir, removeStaleTemps, writeFileAtomic } from './atomic-write.js';

export interface FileSetEntry {
  path: string;
  data: string | Uint8Array;
}

interface JournalEntry {
  path: string;
  /** the backup holding the old content; absent: the file did not exist */
  backup?: string;
  sha256?: string;
}

interface Journal {
  pid: number;
  what: string;
  startedAt: string;
  files: JournalEntry[];
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The journal of a file set: a dot file beside its first file. */
export function journalPath(first: string): string {
  return join(dirname(first), `.${basename(first)}.labops-journal`);
}

function readOrUndefined(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Replaces every file of the set: backups first (`<file>.bak`), then the journal, then each file atomically, then
 * the journal goes. Returns the backups written. `what` names the change for the message of a later rollback.
 */
export function replaceFileSet(files: readonly FileSetEntry[], what: string): string[] {
  const journal = journalPath(files[0]!.path);
  const entries: JournalEntry[] = [];
  for (const f of files) {
    const backup = backupFile(f.path);
    entries.push(backup ? { path: f.path, backup, sha256: sha256(readFileSync(backup)) } : { path: f.path });
  }
  const record: Journal = { pid: process.pid, what, startedAt: new Date().toISOString(), files: entries };
  writeFileAtomic(journal, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  try {
    for (const f of files) writeFileAtomic(f.path, f.data);
  } catch (e) {
    // a write that fails (full disk, permissions) puts the old set back now; a rollback that fails too leaves the journal for the next run
    try {
      rollBack(record.files, journal);
    } catch {
      // the journal stays: the next run under the lock rolls back
    }
    throw e;
  }
  removeJournal(journal);
  return entries.flatMap((e) => (e.backup ? [e.backup] : []));
}

function removeJournal(journal: string): void {
  unlinkSync(journal);
  fsyncDir(dirname(journal));
}

function rollBack(files: readonly JournalEntry[], journal: string): void {
  for (const e of files) restore(e, journal);
  removeJournal(journal);
}

/** Puts one file back as the journal recorded it: its backup's content (checked), or no file. */
function restore(e: JournalEntry, journal: string): void {
  if (!e.backup) {
    if (existsSync(e.path)) unlinkSync(e.path);
    return;
  }
  const old = readOrUndefined(e.backup);
  if (!old || sha256(old) !== e.sha256) {
    throw new OperationFailed(`${journal}: an interrupted change cannot be rolled back: ${e.backup} is ${old ? 'not the backup it recorded' : 'missing'}`, {
      suggestion: `check ${e.path} by hand, then remove ${journal}`,
    });
  }
  const now = readOrUndefined(e.path);
  if (!now || sha256(now) !== e.sha256) writeFileAtomic(e.path, old);
}

/**
 * Call under the lock that guards the set, before reading it. Removes temp files that killed runs left beside the
 * files, their backups and the journal; rolls back a change a killed run left unfinished. Returns what it rolled
 * back (for the operator), or undefined.
 */
export function recoverFileSet(paths: readonly string[]): string | undefined {
  const journal = journalPath(paths[0]!);
  for (const p of paths) for (const target of [p, `${p}.bak`]) removeStaleTemps(dirname(target), target);
  removeStaleTemps(dirname(journal), journal);
  const text = readOrUndefined(journal);
  if (text === undefined) return undefined;
  let record: Journal;
  try {
    record = JSON.parse(text.toString('utf8')) as Journal;
    if (!Array.isArray(record.files)) throw new Error('no file list');
  } catch (e) {
    throw new OperationFailed(`${journal}: unreadable journal of an interrupted change (${(e as Error).message})`, { suggestion: `check ${paths.join(' and ')} by hand, then remove ${journal}` });
  }
  rollBack(record.files, journal);
  return `rolled back ${record.what} that pid ${record.pid} left unfinished at ${record.startedAt}: ${record.files.map((e) => basename(e.path)).join(' and ')} are as before it`;
}
