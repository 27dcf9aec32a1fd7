// Lock files with stale-lock detection, so nobody has to `rm` a lock by hand after a crash.
// The file is created with O_EXCL and holds {pid, hostname, bootId, startTicks}: a lock whose process is
// gone (or whose pid was reused: different start time or boot) is stale and is broken automatically.
// A file in another format (the Python worker's flock file) is stale unless /proc/locks shows a holder.
import { closeSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync, mkdirSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { dirname } from 'node:path';
import { OperationFailed, TempFail } from '../../domain/errors.js';
import { describeFsError } from './atomic-write.js';

export interface LockInfo {
  pid: number;
  hostname: string;
  bootId?: string;
  startTicks?: number;
  createdAt: string;
  command?: string;
}

export interface LockHandle {
  path: string;
  info: LockInfo;
  /** removed locks that were stale, for the operator's information */
  brokeStale?: string;
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
  if (!pidAlive(info.pid)) return { stale: true, why: `left by ${who}, which is no longer running` };
  const ticks = processStartTicks(info.pid);
  if (info.startTicks !== undefined && ticks !== undefined && ticks !== info.startTicks) {
    return { stale: true, why: `left by ${who}; that pid now belongs to another process` };
  }
  return { stale: false, why: `held by ${who}` };
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

export async function acquireLock(path: string, opts: LockOptions = {}): Promise<LockHandle> {
  const now = opts.now ?? Date.now;
  const deadline = now() + (opts.waitMs ?? 0);
  const info = currentLockInfo(opts.command);
  let brokeStale: string | undefined;
  for (;;) {
    if (tryCreate(path, info)) {
      const mine = JSON.stringify(info);
      return {
        path,
        info,
        brokeStale,
        release() {
          try {
            if (readFileSync(path, 'utf8').trim() === mine) unlinkSync(path);
          } catch {
            // already gone
          }
        },
      };
    }
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
