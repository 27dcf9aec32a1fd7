// Lock files with stale-lock detection, so nobody has to `rm` a lock by hand after a crash.
// The file is created with O_EXCL and holds {pid, hostname, bootId, startTicks}: a lock whose process is
// gone (or whose pid was reused: different start time or boot) is stale and is broken automatically.
// A child the holder starts in a process group of its own (the device import) is recorded in the lock: the
// lock stays held while any process of that group runs, even when its holder was killed (kill -9 of the
// holder does not end the import, and a second import must not start beside it).
// A file in another format (the Python worker's flock file) is stale unless /proc/locks shows a holder.
import { closeSync, linkSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync, mkdirSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { dirname } from 'node:path';
import { OperationFailed, TempFail } from '../../domain/errors.js';
import { describeFsError, removeStaleTemps, writeFileAtomic } from './atomic-write.js';

export interface LockInfo {
  pid: number;
  hostname: string;
  bootId?: string;
  startTicks?: number;
  createdAt: string;
  command?: string;
  /** a child started in a process group of its own (pgid = pid): the lock is held while that group runs */
  child?: { pid: number; startTicks?: number; command: string };
}

export interface LockHandle {
  path: string;
  info: LockInfo;
  /** removed locks that were stale, for the operator's information */
  brokeStale?: string;
  /** records a child that leads its own process group: the lock is held while the group runs, whatever becomes of this process */
  holdWhileRunning(pid: number, command: string): void;
  release(): void;
}

export interface LockOptions {
  /** how long to keep trying while a live process holds the lock (default 0: fail at once) */
  waitMs?: number;
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  command?: string;
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function bootId(): string | undefined {
  return readProc('/proc/sys/kernel/random/boot_id')?.trim() || undefined;
}

/** Process start time in clock ticks since boot (field 22 of /proc/<pid>/stat). */
export function processStartTicks(pid: number): number | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // comm may contain spaces and parentheses: fields start after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const v = Number(rest[19]);
  return Number.isFinite(v) ? v : undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Inodes with an active flock/POSIX lock, from /proc/locks (Linux). */
function lockedInodes(): Set<number> | undefined {
  const text = readProc('/proc/locks');
  if (text === undefined) return undefined;
  const out = new Set<number>();
  for (const line of text.split('\n')) {
    const m = /\s(\S+):(\S+):(\d+)\s/.exec(line);
    if (m && !line.includes('->')) out.add(Number(m[3]));
  }
  return out;
}

export function currentLockInfo(command?: string): LockInfo {
  return {
    pid: process.pid,
    hostname: osHostname(),
    bootId: bootId(),
    startTicks: processStartTicks(process.pid),
    createdAt: new Date().toISOString(),
    command,
  };
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as LockInfo;
    if (typeof v.pid === 'number' && typeof v.hostname === 'string') return v;
  } catch {
    // not ours
  }
  return undefined;
}

type Holder = { stale: true; why: string } | { stale: false; why: string };

/** Whether a process of the group a lock's child leads still runs (its leader's pid reused by another process: no). */
function childGroupRuns(child: NonNullable<LockInfo['child']>): boolean {
  if (pidAlive(child.pid) && !isZombie(child.pid)) {
    const ticks = processStartTicks(child.pid);
    return child.startTicks === undefined || ticks === undefined || ticks === child.startTicks;
  }
  // The leader has ended; while a member of its group runs, Linux does not hand its pid to another process.
  return groupHasLiveMember(child.pid);
}

/** The state and process group of a pid from /proc/<pid>/stat (fields after the last ')': state ppid pgrp …). */
function procState(pid: number | string): { state: string; pgrp: number } | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0] ?? '', pgrp: Number(rest[2]) };
}

// An orphaned import that has exited stays a zombie until init reaps it (some container inits never do): it no longer runs.
const isZombie = (pid: number) => procState(pid)?.state === 'Z';

/** Whether any process of group `pgid` runs (zombies do not count); without /proc, whether kill(-pgid, 0) succeeds. */
function groupHasLiveMember(pgid: number): boolean {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return pidAlive(-pgid);
  }
  return pids.some((p) => {
    const st = procState(p);
    return st !== undefined && st.pgrp === pgid && st.state !== 'Z';
  });
}

/** Decides whether the lock at `path` (with `text`) belongs to a live process. */
export function judgeLock(path: string, text: string): Holder {
  const info = parseLock(text);
  if (!info) {
    let ino: number | undefined;
    try {
      ino = statSync(path).ino;
    } catch {
      return { stale: true, why: 'vanished' };
    }
    const held = lockedInodes();
    if (held?.has(ino)) return { stale: false, why: 'held with flock by another program (the Python macct-worker?)' };
    return { stale: true, why: 'a lock file in a foreign format with no process holding it' };
  }
  const who = `pid ${info.pid} on ${info.hostname} since ${info.createdAt}${info.command ? ` (${info.command})` : ''}`;
  if (info.hostname !== osHostname()) return { stale: false, why: `held by ${who}` };
  const boot = bootId();
  if (info.bootId && boot && info.bootId !== boot) return { stale: true, why: `left by ${who} before a reboot` };
  const ticks = pidAlive(info.pid) ? processStartTicks(info.pid) : undefined;
  const holderRuns = pidAlive(info.pid) && (info.startTicks === undefined || ticks === undefined || ticks === info.startTicks);
  if (holderRuns) return { stale: false, why: `held by ${who}` };
  const child = info.child;
  if (child && childGroupRuns(child)) {
    return { stale: false, why: `held by ${child.command} (process group ${child.pid}), which ${who} started and which still runs although that process has ended` };
  }
  const ended = child ? `; ${child.command} (process group ${child.pid}) it started has ended too` : '';
  if (!pidAlive(info.pid)) return { stale: true, why: `left by ${who}, which is no longer running${ended}` };
  return { stale: true, why: `left by ${who}; that pid now belongs to another process${ended}` };
}

function tryCreate(path: string, info: LockInfo): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code === 'ENOENT') {
      mkdirSync(dirname(path), { recursive: true });
      return tryCreate(path, info);
    }
    throw new OperationFailed(`cannot create lock file ${path}: ${describeFsError(e)}`, { cause: e });
  }
  try {
    writeSync(fd, `${JSON.stringify(info)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Breaks a stale lock without racing another breaker: the stale file is renamed away first, and only
 * the process whose rename succeeded removes it. If what it renamed turns out to be live (someone
 * replaced the stale lock in between), it is put back.
 */
function breakStale(path: string, staleText: string): void {
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // someone else broke it
  }
  let moved = '';
  try {
    moved = readFileSync(aside, 'utf8');
  } catch {
    return;
  }
  if (moved !== staleText) {
    // not the file we judged: put it back unless a newer lock already took its place (link fails then)
    try {
      linkSync(aside, path);
    } catch {
      // a newer lock exists; the one we moved was superseded
    }
    unlinkSync(aside);
    return;
  }
  unlinkSync(aside);
}

/** The handle of a lock this process created. */
function heldLock(path: string, info: LockInfo, brokeStale: string | undefined): LockHandle {
  let mine = JSON.stringify(info);
  return {
    path,
    info,
    brokeStale,
    holdWhileRunning(pid, command) {
      info.child = { pid, startTicks: processStartTicks(pid), command };
      const next = JSON.stringify(info);
      // replaced atomically: a reader sees the lock with or without the child, never without a holder
      writeFileAtomic(path, `${next}\n`);
      mine = next;
    },
    release() {
      try {
        if (readFileSync(path, 'utf8').trim() === mine) unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}

export async function acquireLock(path: string, opts: LockOptions = {}): Promise<LockHandle> {
  const now = opts.now ?? Date.now;
  const deadline = now() + (opts.waitMs ?? 0);
  const info = currentLockInfo(opts.command);
  let brokeStale: string | undefined;
  // temp files of holdWhileRunning's rewrite that a killed holder left
  removeStaleTemps(dirname(path), path);
  for (;;) {
    if (tryCreate(path, info)) return heldLock(path, info, brokeStale);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue; // released between our open and read
    }
    const holder = judgeLock(path, text);
    if (holder.stale) {
      brokeStale = holder.why;
      breakStale(path, text);
      continue;
    }
    if (now() >= deadline) {
      throw new TempFail(`lock ${path} is ${holder.why}`, {
        suggestion: 'another run is in progress; try again when it has finished',
        context: { lock: path },
      });
    }
    await (opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))))(opts.pollMs ?? 1000);
  }
}
