// Atomic file replacement: a crash or `kill -9` at any point leaves either the old or the new file,
// never a partial one. Temp file on the same file system, fsync, rename, fsync of the directory.
import {
  closeSync,
  copyFileSync,
  fchmodSync,
  fchownSync,
  fsync,
  fsyncSync,
  openSync,
  rename,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { OperationFailed } from '../../domain/errors.js';

export interface AtomicWriteOptions {
  /** mode for a new file (an existing file keeps its mode, owner and group) */
  mode?: number;
  /**
   * Where the temp file lives. Default: the target's directory. Must be on the same file system
   * (checked; otherwise the target's directory is used). /etc/dhcp/devices/ needs this: linuxmuster
   * includes every file in it, so even a temp file left by `kill -9` must not land there.
   */
  tempDir?: string;
}

const TEMP_MARK = '.labops-tmp-';

/**
 * Name of a temp file for `target`; the pid lets a later run recognise leftovers of dead runs. The suffix
 * only has to make a clash unlikely, not unguessable: the file is created with O_EXCL ('wx'), so a clash or
 * a planted symlink fails the write and never follows or overwrites. (Math.random, not node:crypto: loading
 * crypto costs the device-import hook ~3 ms.)
 */
function tempName(dir: string, target: string): string {
  const suffix = Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
  return join(dir, `.${basename(target)}${TEMP_MARK}${process.pid}-${suffix}`);
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'EROFS':
      return 'read-only file system';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOSPC':
      return 'no space left on device';
    case 'ENOENT':
      return 'no such file or directory';
    case 'EISDIR':
      return 'is a directory';
    default:
      return err.message ?? String(e);
  }
}

/** fsync a directory so a rename in it survives a power loss. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A written, not yet synced temp file next to (or in `tempDir` on the same file system as) its target. */
interface TempFile {
  path: string;
  fd: number;
}

function cannotWrite(target: string, e: unknown): OperationFailed {
  return new OperationFailed(`cannot write ${target}: ${describeFsError(e)} (file unchanged)`, { cause: e });
}

/** Closes (when still open) and removes a temp file after a failure; the target was never touched. */
function discard(tmp: string, fd: number | undefined): void {
  if (fd !== undefined) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
  try {
    unlinkSync(tmp);
  } catch {
    // never created, or already renamed
  }
}

/** Writes `data` to a new temp file with the target's mode and owner. Throws OperationFailed, leaving nothing behind. */
function writeTemp(target: string, data: string | Uint8Array, opts: AtomicWriteOptions): TempFile {
  const dir = dirname(target);
  const existing = statOrUndefined(target);
  let tmpDir = dir;
  if (opts.tempDir && opts.tempDir !== dir) {
    const a = statOrUndefined(opts.tempDir);
    const b = statOrUndefined(dir);
    if (a && b && a.dev === b.dev) tmpDir = opts.tempDir;
  }
  const tmp = tempName(tmpDir, target);
  const mode = existing ? existing.mode & 0o7777 : (opts.mode ?? 0o644);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', mode);
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    // open() applies the umask; the final file must have exactly the old mode.
    fchmodSync(fd, mode);
    if (existing && process.getuid?.() === 0) fchownSync(fd, existing.uid, existing.gid);
    return { path: tmp, fd };
  } catch (e) {
    discard(tmp, fd);
    throw cannotWrite(target, e);
  }
}

/**
 * Replaces `target` with `data` atomically. Throws OperationFailed (with the path and a plain reason)
 * when the directory is not writable; the target is then untouched.
 */
export function writeFileAtomic(target: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const tmp = writeTemp(target, data, opts);
  let fd: number | undefined = tmp.fd;
  try {
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp.path, target);
  } catch (e) {
    discard(tmp.path, fd);
    throw cannotWrite(target, e);
  }
  fsyncDir(dirname(target));
}

/**
 * writeFileAtomic whose fsync and rename run in libuv's thread pool, so the caller can go on working while
 * the data reaches the disk (fsync of a 4 MB DHCP file takes longer than planning it). The data is written
 * before this returns; the target changes only just before the promise resolves, and a rejection
 * (OperationFailed) leaves it untouched.
 */
export async function writeFileAtomicInBackground(target: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const tmp = writeTemp(target, data, opts);
  let fd: number | undefined = tmp.fd;
  try {
    await new Promise<void>((resolve, reject) => fsync(tmp.fd, (e) => (e ? reject(e) : resolve())));
    closeSync(fd);
    fd = undefined;
    await new Promise<void>((resolve, reject) => rename(tmp.path, target, (e) => (e ? reject(e) : resolve())));
  } catch (e) {
    discard(tmp.path, fd);
    throw cannotWrite(target, e);
  }
  fsyncDir(dirname(target));
}

/** Restores `target` to exactly `original` (bytes), atomically. */
export function restoreFile(target: string, original: Uint8Array, opts: AtomicWriteOptions = {}): void {
  writeFileAtomic(target, original, opts);
}

/**
 * One backup generation: `<target>.bak` becomes a copy of the current target (atomically, so the
 * previous backup survives until the new one is complete). Returns the backup path, or undefined when
 * there was nothing to back up.
 */
export function backupFile(target: string, suffix = '.bak'): string | undefined {
  if (!statOrUndefined(target)) return undefined;
  const bak = target + suffix;
  const tmp = tempName(dirname(target), bak);
  try {
    copyFileSync(target, tmp);
    const fd = openSync(tmp, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, bak);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
    throw new OperationFailed(`cannot write backup ${bak}: ${describeFsError(e)} (nothing changed)`, { cause: e });
  }
  fsyncDir(dirname(target));
  return bak;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes temp files that dead labops runs left for `target` in `dir`. Returns what was removed. */
export function removeStaleTemps(dir: string, target: string): string[] {
  const prefix = `.${basename(target)}${TEMP_MARK}`;
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || (pid !== process.pid && pidAlive(pid))) continue;
    if (pid === process.pid) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(join(dir, name));
    } catch {
      // gone already or not ours to remove
    }
  }
  return removed;
}
